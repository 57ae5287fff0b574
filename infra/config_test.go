package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigFromContext(t *testing.T) {
	withDefaults := func(f func(*Config)) Config {
		c := DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		ctx     map[string]any
		want    Config
		wantErr []string // substrings of the error, one per invalid key
	}{
		{name: "empty", ctx: nil, want: DefaultConfig()},
		{
			name: "strings from -c",
			ctx: map[string]any{
				CtxStackName: "Broker-Staging", CtxAssetDir: "dist", CtxCloudifyURL: "https://cfy.example.com",
				CtxCloudifyTenant: "t1", CtxCloudifySecretARN: fakeCloudifySecret, CtxBrokerSecretARN: fakeBrokerSecret,
				CtxSealKeySecretARN: fakeSealKeySecret, CtxDeletionProtection: "false", CtxCatalogRate: "10",
				CtxLogRetentionDays: "90", CtxLogLevel: "warn", CtxAPIRateLimit: "12.5", CtxAPIBurstLimit: "20",
				CtxAlarmTopicARN: fakeTopic, CtxMetricsNamespace: "cfy/staging", CtxDashboardURL: "none",
				CtxDefaultDeadline: "4h", CtxPollMinSeconds: "3", CtxPollMaxSeconds: "30", CtxSweepStaleSeconds: "600",
				CtxStepInlineWait: "20", CtxStepInlineBudget: "0",
				CtxAllowInsecureCloudify: "false", CtxCABundleSecretARN: fakeCASecret, CtxCABundleFile: "",
				CtxVPCID: "vpc-0123456789abcdef0", CtxSubnetIDs: "subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2",
				CtxSecurityGroupIDs: "sg-0ccccccccccccccc3", CtxRouteTableIDs: "rtb-0ddddddddddddddd4",
				CtxDynamoDBEndpoint: "true", CtxInterfaceEndpoints: "all",
				CtxDomainName: "broker.example.com", CtxCertificateARN: fakeCertificate,
				CtxMTLSTruststoreURI: "s3://truststores/cfybroker.pem", CtxMTLSTruststoreVersion: "v3",
				CtxDisableExecuteAPIEndpoint: "true", CtxPollRateLimit: "80", CtxPollBurstLimit: "160",
				CtxChangeRateLimit: "5", CtxChangeBurstLimit: "10", CtxAPIReservedConcurrency: "0",
				CtxStepMaxConcurrency: "200", CtxTracing: "false", CtxTerminationProtection: "false",
			},
			want: Config{
				StackName: "Broker-Staging", AssetDir: "dist", CloudifyURL: "https://cfy.example.com", CloudifyTenant: "t1",
				CloudifySecretARN: fakeCloudifySecret, BrokerSecretARN: fakeBrokerSecret, SealKeySecretARN: fakeSealKeySecret,
				DeletionProtection: false, CatalogRate: 10 * time.Minute, LogRetentionDays: 90, LogLevel: "warn",
				APIRateLimit: 12.5, APIBurstLimit: 20, AlarmTopicARN: fakeTopic, MetricsNamespace: "cfy/staging",
				DashboardURL: "none", DefaultDeadline: "4h", PollMinSeconds: 3, PollMaxSeconds: 30, SweepStaleSeconds: 600,
				StepInlineWaitSeconds: 20, StepInlineBudgetSeconds: 0,
				CABundleSecretARN: fakeCASecret, VPCID: "vpc-0123456789abcdef0",
				SubnetIDs: []string{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"}, SecurityGroupIDs: []string{"sg-0ccccccccccccccc3"},
				RouteTableIDs: []string{"rtb-0ddddddddddddddd4"}, DynamoDBEndpoint: true,
				InterfaceEndpoints: []string{"states", "secretsmanager", "logs", "xray"},
				DomainName:         "broker.example.com", CertificateARN: fakeCertificate,
				MTLSTruststoreURI: "s3://truststores/cfybroker.pem", MTLSTruststoreVersion: "v3", DisableExecuteAPIEndpoint: true,
				PollRateLimit: 80, PollBurstLimit: 160, ChangeRateLimit: 5, ChangeBurstLimit: 10,
				APIReservedConcurrency: 0, StepMaxConcurrency: 200, Tracing: false, TerminationProtection: false,
			},
		},
		{
			name: "JSON lists from cdk.json, http allowed",
			ctx: map[string]any{CtxVPCID: "vpc-0123456789abcdef0", CtxSubnetIDs: []any{"subnet-0aaaaaaaaaaaaaaa1"},
				CtxDynamoDBEndpoint: false, CtxInterfaceEndpoints: []any{"states", "secretsmanager"},
				CtxCloudifyURL: "http://10.0.0.5:8080", CtxAllowInsecureCloudify: true},
			want: withDefaults(func(c *Config) {
				c.VPCID, c.SubnetIDs, c.DynamoDBEndpoint = "vpc-0123456789abcdef0", []string{"subnet-0aaaaaaaaaaaaaaa1"}, false
				c.InterfaceEndpoints = []string{"states", "secretsmanager"}
				c.CloudifyURL, c.AllowInsecureCloudify = "http://10.0.0.5:8080", true
			}),
		},
		{
			name: "network and domain errors",
			ctx: map[string]any{CtxVPCID: "vpc-1", CtxSubnetIDs: "subnet-xyz", CtxSecurityGroupIDs: "default",
				CtxInterfaceEndpoints: "states,sqs", CtxDomainName: "Broker_Example", CtxMTLSTruststoreURI: "https://bucket/key",
				CtxCloudifyURL: "http://cfy.example.com", CtxCABundleSecretARN: "ca", CtxCABundleFile: "no-such.pem",
				CtxPollBurstLimit: "1.5", CtxChangeRateLimit: "0", CtxStepMaxConcurrency: "-1"},
			wantErr: []string{CtxVPCID, CtxSubnetIDs, CtxSecurityGroupIDs, CtxRouteTableIDs, CtxInterfaceEndpoints, CtxDomainName,
				CtxCertificateARN, CtxMTLSTruststoreURI, CtxCloudifyURL, CtxCABundleSecretARN, CtxCABundleFile,
				CtxPollBurstLimit, CtxChangeRateLimit, CtxStepMaxConcurrency},
		},
		{
			name: "settings without the setting they belong to",
			ctx: map[string]any{CtxSubnetIDs: "subnet-0aaaaaaaaaaaaaaa1", CtxRouteTableIDs: "rtb-0ddddddddddddddd4",
				CtxCertificateARN: fakeCertificate, CtxDisableExecuteAPIEndpoint: "true"},
			wantErr: []string{CtxSubnetIDs, CtxRouteTableIDs, CtxCertificateARN, CtxDisableExecuteAPIEndpoint},
		},
		{
			name: "JSON values from cdk.json",
			ctx:  map[string]any{CtxDeletionProtection: false, CtxCatalogRate: 15.0, CtxLogRetentionDays: 14.0, CtxAPIBurstLimit: 5.0},
			want: withDefaults(func(c *Config) {
				c.DeletionProtection, c.CatalogRate, c.LogRetentionDays, c.APIBurstLimit = false, 15*time.Minute, 14, 5
			}),
		},
		{
			name: "duration rate, blank strings keep defaults",
			ctx:  map[string]any{CtxCatalogRate: "1h", CtxCloudifyURL: "  ", CtxLogLevel: ""},
			want: withDefaults(func(c *Config) { c.CatalogRate = time.Hour }),
		},
		{
			name: "invalid values",
			ctx: map[string]any{
				CtxStackName: "1bad name", CtxCloudifyURL: "manager:80", CtxBrokerSecretARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:broker",
				CtxDeletionProtection: "maybe", CtxCatalogRate: "90s", CtxLogRetentionDays: 10.0, CtxLogLevel: "trace",
				CtxAPIRateLimit: "fast", CtxAlarmTopicARN: "topic", CtxPollMinSeconds: 2.5, CtxMetricsNamespace: "AWS/Lambda",
			},
			wantErr: []string{CtxStackName, CtxCloudifyURL, CtxBrokerSecretARN, CtxDeletionProtection, CtxCatalogRate,
				CtxLogRetentionDays, CtxLogLevel, CtxAPIRateLimit, CtxAlarmTopicARN, CtxPollMinSeconds, CtxMetricsNamespace},
		},
		{
			name: "semantic errors",
			ctx: map[string]any{CtxCatalogRate: "0", CtxPollMinSeconds: "60", CtxPollMaxSeconds: "10", CtxDefaultDeadline: "soon", CtxAPIBurstLimit: "0",
				CtxStepInlineWait: "-1", CtxStepInlineBudget: 601.0},
			wantErr: []string{CtxCatalogRate, CtxPollMinSeconds, CtxDefaultDeadline, CtxAPIBurstLimit, CtxStepInlineWait, CtxStepInlineBudget},
		},
		{
			name:    "deadline past the longest operation",
			ctx:     map[string]any{CtxDefaultDeadline: "25h"},
			wantErr: []string{CtxDefaultDeadline},
		},
		{
			name:    "deadline past the state machine's history at fast polling",
			ctx:     map[string]any{CtxDefaultDeadline: "20h", CtxPollMaxSeconds: "5", CtxStepInlineWait: "0"},
			wantErr: []string{CtxDefaultDeadline},
		},
		{
			name:    "wrong JSON types",
			ctx:     map[string]any{CtxCloudifyURL: 3.0, CtxDeletionProtection: 1.0, CtxAPIRateLimit: true, CtxCatalogRate: false},
			wantErr: []string{CtxCloudifyURL, CtxDeletionProtection, CtxAPIRateLimit, CtxCatalogRate},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromContext(func(k string) any { return tt.ctx[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				for _, key := range tt.wantErr {
					if !strings.Contains(err.Error(), "context "+key+":") {
						t.Errorf("the error does not name %s:\n%v", key, err)
					}
				}
				if n := strings.Count(err.Error(), "context "); n != len(tt.wantErr) {
					t.Errorf("%d errors, want %d:\n%v", n, len(tt.wantErr), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetricsNamespaceDefault(t *testing.T) {
	c := DefaultConfig()
	c.StackName = "Prod"
	if got, want := c.metricsNamespace(), "cfybroker/Prod"; got != want {
		t.Errorf("metricsNamespace() = %q, want %q", got, want)
	}
}

// TestContextKeysDocumented checks that every context key is in the README's
// context table and that cdk.json sets no key the app does not know (a typo there
// would be silently ignored).
func TestContextKeysDocumented(t *testing.T) {
	keys := contextKeys()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.Contains(string(readme), "| `"+k+"` |") {
			t.Errorf("README.md's context table lacks %s", k)
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &cdk); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	for k := range cdk.Context {
		if !strings.HasPrefix(k, "@aws-cdk/") && !strings.HasPrefix(k, "aws:") && !slices.Contains(keys, k) {
			t.Errorf("cdk.json sets context %q, which the app does not read", k)
		}
	}
	if !strings.Contains(cdk.App, "go -C infra build") {
		t.Errorf("cdk.json app %q does not build the infra module from the repository root", cdk.App)
	}
}

// contextKeys lists the Ctx* constants, through Config's field count as a guard
// against a key added without its field.
func contextKeys() []string {
	keys := []string{
		CtxStackName, CtxAssetDir, CtxCloudifyURL, CtxCloudifyTenant, CtxCloudifySecretARN, CtxBrokerSecretARN,
		CtxSealKeySecretARN, CtxDeletionProtection, CtxCatalogRate, CtxLogRetentionDays, CtxLogLevel,
		CtxAPIRateLimit, CtxAPIBurstLimit, CtxAlarmTopicARN, CtxMetricsNamespace, CtxDashboardURL,
		CtxDefaultDeadline, CtxPollMinSeconds, CtxPollMaxSeconds, CtxSweepStaleSeconds,
		CtxStepInlineWait, CtxStepInlineBudget,
		CtxAllowInsecureCloudify, CtxCABundleSecretARN, CtxCABundleFile, CtxVPCID, CtxSubnetIDs, CtxSecurityGroupIDs,
		CtxRouteTableIDs, CtxDynamoDBEndpoint, CtxInterfaceEndpoints, CtxDomainName, CtxCertificateARN,
		CtxMTLSTruststoreURI, CtxMTLSTruststoreVersion, CtxDisableExecuteAPIEndpoint, CtxPollRateLimit,
		CtxPollBurstLimit, CtxChangeRateLimit, CtxChangeBurstLimit, CtxAPIReservedConcurrency, CtxStepMaxConcurrency,
		CtxTracing, CtxTerminationProtection,
	}
	if n := reflect.TypeFor[Config]().NumField(); n != len(keys) {
		panic("Config has a field without a context key, or the reverse")
	}
	return keys
}
