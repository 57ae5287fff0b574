package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// network is where the functions run when Config.VPCID is set.
type network struct {
	// subnets and securityGroups are the functions' VpcConfig.
	subnets        *[]*string
	securityGroups []*string
}

// noResourceLevelActions are the actions that IAM cannot scope to a resource: the
// only ones the stack grants on "*". Lambda needs the first two to manage a VPC
// function's network interfaces; the rest are those of X-Ray tracing and of the
// state machine's log delivery.
var noResourceLevelActions = []string{
	"ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
	"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
	"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
	"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}

// newNetwork defines, for a stack in a VPC, the functions' security group (when
// Config.SecurityGroupIDs names none), the DynamoDB gateway endpoint and the
// interface endpoints; nil without a VPC. It takes ids as given: nothing is looked
// up, so the synth needs no AWS account.
func (s *BrokerStack) newNetwork() *network {
	c := s.Config
	if c.VPCID == "" {
		return nil
	}
	n := &network{subnets: jsii.Strings(c.SubnetIDs...), securityGroups: *jsii.Strings(c.SecurityGroupIDs...)}
	if len(c.SecurityGroupIDs) == 0 {
		// The functions only call out: HTTPS to AWS endpoints and to the manager
		// (and the manager's own port when its URL names another one). No ingress.
		egress := []any{&awsec2.CfnSecurityGroup_EgressProperty{
			IpProtocol: jsii.String("tcp"), FromPort: jsii.Number(443), ToPort: jsii.Number(443),
			CidrIp: jsii.String("0.0.0.0/0"), Description: jsii.String("HTTPS: AWS endpoints and the Cloudify manager"),
		}}
		if p := c.cloudifyPort(); p != 0 {
			egress = append(egress, &awsec2.CfnSecurityGroup_EgressProperty{
				IpProtocol: jsii.String("tcp"), FromPort: jsii.Number(p), ToPort: jsii.Number(p),
				CidrIp: jsii.String("0.0.0.0/0"), Description: jsii.String("the Cloudify manager's port " + strconv.Itoa(p)),
			})
		}
		sg := awsec2.NewCfnSecurityGroup(s.Stack, jsii.String("FunctionsSecurityGroup"), &awsec2.CfnSecurityGroupProps{
			GroupDescription:    jsii.String("The functions of " + c.StackName + ": outbound HTTPS only"),
			VpcId:               jsii.String(c.VPCID),
			SecurityGroupEgress: &egress,
		})
		n.securityGroups = []*string{sg.AttrGroupId()}
		s.SecurityGroup = sg
	}
	service := func(name string) *string {
		return awscdk.Fn_Sub(jsii.String("com.amazonaws.${AWS::Region}."+name), nil)
	}
	if c.DynamoDBEndpoint {
		awsec2.NewCfnVPCEndpoint(s.Stack, jsii.String("DynamoDbEndpoint"), &awsec2.CfnVPCEndpointProps{
			VpcId:           jsii.String(c.VPCID),
			ServiceName:     service("dynamodb"),
			VpcEndpointType: jsii.String("Gateway"),
			RouteTableIds:   anys(jsii.Strings(c.RouteTableIDs...)),
		})
	}
	if len(c.InterfaceEndpoints) > 0 {
		var ingress []any
		for i, sg := range n.securityGroups {
			ingress = append(ingress, &awsec2.CfnSecurityGroup_IngressProperty{
				IpProtocol: jsii.String("tcp"), FromPort: jsii.Number(443), ToPort: jsii.Number(443),
				SourceSecurityGroupId: sg, Description: jsii.String("HTTPS from the functions (" + strconv.Itoa(i+1) + ")"),
			})
		}
		esg := awsec2.NewCfnSecurityGroup(s.Stack, jsii.String("EndpointsSecurityGroup"), &awsec2.CfnSecurityGroupProps{
			GroupDescription:     jsii.String("The interface endpoints of " + c.StackName + ": HTTPS from the functions"),
			VpcId:                jsii.String(c.VPCID),
			SecurityGroupIngress: &ingress,
			// No egress: an endpoint answers, it does not call out.
			SecurityGroupEgress: &[]any{&awsec2.CfnSecurityGroup_EgressProperty{
				IpProtocol: jsii.String("icmp"), FromPort: jsii.Number(252), ToPort: jsii.Number(86),
				CidrIp: jsii.String("255.255.255.255/32"), Description: jsii.String("no outbound traffic"),
			}},
		})
		for _, e := range c.InterfaceEndpoints {
			awsec2.NewCfnVPCEndpoint(s.Stack, jsii.String(endpointID(e)), &awsec2.CfnVPCEndpointProps{
				VpcId:             jsii.String(c.VPCID),
				ServiceName:       service(e),
				VpcEndpointType:   jsii.String("Interface"),
				SubnetIds:         anys(n.subnets),
				SecurityGroupIds:  &[]any{esg.AttrGroupId()},
				PrivateDnsEnabled: jsii.Bool(true),
			})
		}
	}
	return n
}

// endpointID is the construct id of an interface endpoint.
func endpointID(service string) string {
	return map[string]string{
		"states": "StepFunctionsEndpoint", "secretsmanager": "SecretsManagerEndpoint",
		"logs": "LogsEndpoint", "xray": "XRayEndpoint",
	}[service]
}

// anys converts a list for the L1 properties typed []interface{}.
func anys(l *[]*string) *[]any {
	out := make([]any, len(*l))
	for i, v := range *l {
		out[i] = v
	}
	return &out
}

// grantNetworkInterfaces lets a function's role manage the network interfaces
// Lambda creates for it in the VPC: the permissions of the managed policy
// AWSLambdaVPCAccessExecutionRole, scoped to the stack's subnets and security
// groups where IAM allows it. It must be in the role's policy before the function
// exists (Lambda checks it when it creates the function).
func (n *network) grantNetworkInterfaces(role awsiam.Role) {
	arn := func(kind, id string) *string {
		return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:"+kind+"/"+id), nil)
	}
	eni := arn("network-interface", "*")
	create := []*string{eni}
	for _, id := range *n.subnets {
		create = append(create, arn("subnet", *id))
	}
	for _, sg := range n.securityGroups {
		create = append(create, awscdk.Fn_Join(jsii.String(""), &[]*string{arn("security-group", ""), sg}))
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CreateNetworkInterfaces"),
		Actions:   jsii.Strings("ec2:CreateNetworkInterface"),
		Resources: &create,
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("ManageNetworkInterfaces"),
		Actions:   jsii.Strings("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
		Resources: &[]*string{eni},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DescribeNetwork"),
		Actions:   jsii.Strings("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"),
		Resources: jsii.Strings("*"),
	}))
}

// vpcConfig returns the functions' VpcConfig.
func (n *network) vpcConfig() *awslambda.CfnFunction_VpcConfigProperty {
	return &awslambda.CfnFunction_VpcConfigProperty{SubnetIds: n.subnets, SecurityGroupIds: &n.securityGroups}
}
