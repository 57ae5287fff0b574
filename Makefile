# cfybroker — an Open Service Broker for Cloudify. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO        ?= go
BIN       := bin
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin

.PHONY: help run run-aws lint-template sim test test-short lint fmt bench build build-lambdas clean tools local-aws local-aws-stop local-k8s local-k8s-stop generate fuzz synth deploy test-infra chaos chaos-aws image test-k8s

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## start the embedded broker with the built-in Cloudify simulator (a demo: nothing real is deployed)
	$(GO) run ./cmd/cfybroker serve --cloudify-sim

RUN_AWS_ARGS ?=

run-aws: ## the AWS shape on this machine (like sam local start-api): the real bootstraps under the Lambda emulator, an API Gateway stand-in on 127.0.0.1:8090, the state machine on the local Step Functions engine, DynamoDB Local, the Cloudify simulator
	bash .ci/local-aws.sh install
	eval "$$(bash .ci/local-aws.sh start)" && $(GO) run ./internal/devtools/cmd/run-aws $(RUN_AWS_ARGS)

sim: ## run the Cloudify manager simulator alone on 127.0.0.1:8100
	$(GO) run ./cmd/cfybroker dev cloudify-sim --listen 127.0.0.1:8100

test: ## run every test with the race detector, starting the local AWS and Kubernetes stand-ins first (the first run builds them: about 10 min)
	@echo "== local stand-ins (built on first use; make local-aws-stop local-k8s-stop stops them)"
	@bash .ci/local-aws.sh install
	@bash .ci/local-k8s.sh install
	@set -e; eval "$$(bash .ci/local-aws.sh start)"; eval "$$(bash .ci/local-k8s.sh start)"; \
	  echo "== go test -race ./..."; $(GO) test -race -count=1 -timeout 30m $(PKGS)

chaos: ## the long fault campaign: 200 lifecycles against a faulty simulator (CHAOS_LIFECYCLES, CHAOS_SEED)
	set -o pipefail; CHAOS_LIFECYCLES=$${CHAOS_LIFECYCLES:-200} $(GO) test -run 'TestChaos$$' -count=1 -v -timeout 30m ./cmd/cfybroker/ 2>&1 | grep -v 'handling failure responses'

chaos-aws: ## the AWS-shape fault campaign on the local stand-ins, with step Lambda crashes (needs make local-aws)
	AWS_CHAOS_LIFECYCLES=$${AWS_CHAOS_LIFECYCLES:-12} $(GO) test -run 'TestAWSChaos$$' -count=1 -v -timeout 20m ./internal/serverless/

test-short: ## the quick loop: unit tests without the race detector and without any stand-in (their tests skip)
	env -u CI -u KUBECONFIG -u KUBEBUILDER_ASSETS -u AWS_ENDPOINT_URL_DYNAMODB -u LOCAL_AWS_RIE -u LOCAL_AWS_NODE -u LOCAL_AWS_SFN_MODULES \
	  $(GO) test -short -count=1 $(PKGS)

tools: ## install the lint tools
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools ## gofmt, go vet, staticcheck, go mod tidy diff, dependency direction
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^infra/')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GOBIN_DIR)/staticcheck $(PKGS)
	@cp go.mod /tmp/cfybroker.go.mod.bak && cp go.sum /tmp/cfybroker.go.sum.bak; \
	  $(GO) mod tidy && git diff --exit-code go.mod go.sum >/dev/null; rc=$$?; \
	  cp /tmp/cfybroker.go.mod.bak go.mod; cp /tmp/cfybroker.go.sum.bak go.sum; \
	  if [ $$rc -ne 0 ]; then echo "go mod tidy would change go.mod/go.sum"; exit 1; fi
	@./.ci/check-deps

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

BENCH_DIR := bin/bench

bench: ## measure, synthesise the template (for the functions' memory), then write docs/benchmarks.md and docs/benchmarks-polling.png (starts the stand-ins of make local-aws when it can; installs wrk for the external load test)
	@mkdir -p $(BENCH_DIR)
	@( bash .ci/local-aws.sh install >/dev/null 2>&1 && bash .ci/local-aws.sh start >/dev/null 2>&1 ) || \
	  echo "bench: local AWS stand-ins unavailable; DynamoDB and Lambda rows will say not measured"
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count 5 -benchtime 500ms ./internal/broker ./internal/osb | tee $(BENCH_DIR)/handler.txt
	CFYBROKER_BENCH_DIR=$(CURDIR)/$(BENCH_DIR) $(GO) test -count=1 -run '^TestBenchPolling$$' ./internal/workflow
	CFYBROKER_BENCH_DIR=$(CURDIR)/$(BENCH_DIR) $(GO) test -count=1 -timeout 20m -v -run '^TestBench' ./cmd/cfybroker
	@$(MAKE) --no-print-directory synth >$(BENCH_DIR)/synth.log 2>&1 || \
	  echo "bench: make synth failed (see $(BENCH_DIR)/synth.log); the report will say the functions' memory was not read"
	$(GO) run ./internal/devtools/cmd/bench-report -in $(BENCH_DIR) -out docs/benchmarks.md -templates cdk.out
	@command -v wrk >/dev/null || { echo "bench: installing wrk from Debian"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }
	$(GO) run ./internal/devtools/cmd/extbench --work $(BENCH_DIR)/ext --out $(BENCH_DIR)/external.json \
	  --handler $(BENCH_DIR)/handler.txt --lifecycle $(BENCH_DIR)/lifecycle.json \
	  --baseline docs/benchmarks-external-before.json --doc docs/benchmarks.md

build: ## build the cfybroker binary and the Lambda bootstraps (bin/<fn>/bootstrap, linux/arm64)
	$(GO) build -trimpath -o $(BIN)/cfybroker ./cmd/cfybroker
	bash .ci/build-lambdas.sh $(BIN)

IMAGE ?= cfybroker:dev

image: ## build the container image IMAGE (infra/kubernetes/Dockerfile) with docker, podman or buildah; fails, saying why, without a running engine
	bash .ci/build-image.sh $(IMAGE)

build-lambdas: ## build the Lambda bootstraps (provided.al2023, arm64) into bin/<fn>/bootstrap
	bash .ci/build-lambdas.sh $(BIN)

clean: ## remove build output
	rm -rf $(BIN) cdk.out cdk.out.options

# The AWS CDK CLI is a tool, not a dependency of the project: it is installed into
# .local-aws/cdk (hidden, so that the Go tooling never reads its Go templates).
CDK_VERSION := 2.1148.1
CDK_BIN     := .local-aws/cdk/node_modules/.bin/cdk
CDK         := CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(CDK_BIN)
CDK_ARGS    ?=

$(CDK_BIN):
	mkdir -p .local-aws/cdk
	npm install --prefix .local-aws/cdk --no-audit --no-fund --silent aws-cdk@$(CDK_VERSION)

synth: build $(CDK_BIN) ## synthesise the CDK stack offline into cdk.out/ (cdk.json at the root)
	$(CDK) synth -q $(CDK_ARGS)

deploy: build $(CDK_BIN) ## deploy the stack (needs AWS credentials and `cdk bootstrap` once; see infra/README.md)
	$(CDK) deploy $(CDK_ARGS)

CFN_LINT ?= $(shell command -v cfn-lint 2>/dev/null)
# The production options (VPC, endpoints, custom domain, mutual TLS, a CA bundle), ids
# only: lint-template also lints the stack made with them (cdk.out.options/).
LINT_OPTIONS := -c stackName=CfyBroker-Options -c vpcId=vpc-0123456789abcdef0 \
	-c subnetIds=subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2 -c routeTableIds=rtb-0ddddddddddddddd4 \
	-c interfaceEndpoints=all -c domainName=broker.example.com \
	-c certificateArn=arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 \
	-c mtlsTruststoreUri=s3://truststores/cfybroker.pem -c disableExecuteApiEndpoint=true \
	-c cloudifyCaBundleSecretArn=arn:aws:secretsmanager:eu-west-1:123456789012:secret:cfybroker/ca-StUvWx

lint-template: $(CDK_BIN) ## AWS's cfn-lint on the synthesised templates, as they are and with the production options (run make synth first): errors fail, warnings are shown
	@test -n "$(CFN_LINT)" || { echo "lint-template: cfn-lint is not installed (pip install cfn-lint); template not linted"; exit 2; }
	@ls cdk.out/*.template.json >/dev/null 2>&1 || { echo "lint-template: no cdk.out/*.template.json; run make synth first"; exit 1; }
	$(CFN_LINT) --version
	$(CFN_LINT) --non-zero-exit-code error cdk.out/*.template.json
	$(CDK) synth -q -o cdk.out.options $(LINT_OPTIONS) $(CDK_ARGS)
	$(CFN_LINT) --non-zero-exit-code error cdk.out.options/*.template.json

test-infra: ## gofmt, vet and test the CDK app (infra/, its own Go module)
	@out=$$(gofmt -l infra); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	cd infra && $(GO) vet ./... && $(GO) test -count=1 ./...

local-aws: ## install and start the local AWS stand-ins on 127.0.0.1 (DynamoDB Local; installs the Lambda emulator and the Step Functions engine)
	bash .ci/local-aws.sh install
	bash .ci/local-aws.sh start


test-k8s: ## render infra/kubernetes with kustomize and apply it with --dry-run=server (needs KUBECONFIG; see make local-k8s)
	$(GO) test -count=1 -run 'TestManifests' -v ./internal/kube/

local-aws-stop: ## stop the local AWS stand-ins
	bash .ci/local-aws.sh stop

local-k8s: ## build (first time: about 5 min) and start a real kube-apiserver + etcd on 127.0.0.1; prints KUBECONFIG
	bash .ci/local-k8s.sh install
	bash .ci/local-k8s.sh start

local-k8s-stop: ## stop the local Kubernetes API server and etcd
	bash .ci/local-k8s.sh stop

CONTROLLER_GEN := .local-k8s/bin/controller-gen

$(CONTROLLER_GEN):
	GOBIN=$(CURDIR)/.local-k8s/bin $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0

generate: $(CONTROLLER_GEN) ## regenerate the Kubernetes deepcopy code and CRDs (infra/kubernetes/crd) from internal/kube/api
	$(CONTROLLER_GEN) object paths=./internal/kube/api/... crd:crdVersions=v1 output:crd:dir=infra/kubernetes/crd

FUZZTIME ?= 10s
FUZZ_TARGETS := ./internal/osb:FuzzHandler ./internal/osb:FuzzParseIdentity ./internal/catalog:FuzzInputSchemas \
	./internal/cloudify:FuzzAPIError ./internal/cloudify:FuzzDecodeResources

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done
