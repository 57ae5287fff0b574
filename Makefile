# cfybroker — an Open Service Broker for Cloudify. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

GO        ?= go
BIN       := bin
PKGS      := ./...
STATICCHECK_VERSION := v0.8.2
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin

.PHONY: help run sim test test-short lint fmt bench build build-lambdas clean tools local-aws local-aws-stop fuzz synth deploy test-infra chaos chaos-aws

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## start the embedded broker (with the built-in Cloudify simulator when no CLOUDIFY_URL is set)
	$(GO) run ./cmd/cfybroker serve

sim: ## run the Cloudify manager simulator alone on 127.0.0.1:8100
	$(GO) run ./cmd/cfybroker dev cloudify-sim --listen 127.0.0.1:8100

test: ## run every test (with the race detector)
	$(GO) test -race -count=1 $(PKGS)

chaos: ## the long fault campaign: 200 lifecycles against a faulty simulator (CHAOS_LIFECYCLES, CHAOS_SEED)
	set -o pipefail; CHAOS_LIFECYCLES=$${CHAOS_LIFECYCLES:-200} $(GO) test -run 'TestChaos$$' -count=1 -v -timeout 30m ./cmd/cfybroker/ 2>&1 | grep -v 'handling failure responses'

chaos-aws: ## the AWS-shape fault campaign on the local stand-ins, with step Lambda crashes (needs make local-aws)
	AWS_CHAOS_LIFECYCLES=$${AWS_CHAOS_LIFECYCLES:-12} $(GO) test -run 'TestAWSChaos$$' -count=1 -v -timeout 20m ./internal/serverless/

test-short: ## run the unit tests quickly, without the race detector
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

bench: ## measure, then write docs/benchmarks.md and docs/benchmarks-polling.png (starts the stand-ins of make local-aws when it can; installs wrk for the external load test)
	@mkdir -p $(BENCH_DIR)
	@( bash .ci/local-aws.sh install >/dev/null 2>&1 && bash .ci/local-aws.sh start >/dev/null 2>&1 ) || \
	  echo "bench: local AWS stand-ins unavailable; DynamoDB and Lambda rows will say not measured"
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count 5 -benchtime 500ms ./internal/broker ./internal/osb | tee $(BENCH_DIR)/handler.txt
	CFYBROKER_BENCH_DIR=$(CURDIR)/$(BENCH_DIR) $(GO) test -count=1 -run '^TestBenchPolling$$' ./internal/workflow
	CFYBROKER_BENCH_DIR=$(CURDIR)/$(BENCH_DIR) $(GO) test -count=1 -timeout 20m -v -run '^TestBench' ./cmd/cfybroker
	$(GO) run ./cmd/cfybroker dev bench-report --in $(BENCH_DIR) --out docs/benchmarks.md
	@command -v wrk >/dev/null || { echo "bench: installing wrk from Debian"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }
	$(GO) run ./internal/devtools/cmd/extbench --work $(BENCH_DIR)/ext --out $(BENCH_DIR)/external.json \
	  --handler $(BENCH_DIR)/handler.txt --lifecycle $(BENCH_DIR)/lifecycle.json \
	  --baseline docs/benchmarks-external-before.json --doc docs/benchmarks.md

build: ## build the cfybroker binary and the Lambda bootstraps (bin/<fn>/bootstrap, linux/arm64)
	$(GO) build -trimpath -o $(BIN)/cfybroker ./cmd/cfybroker
	bash .ci/build-lambdas.sh $(BIN)

build-lambdas: ## build the Lambda bootstraps (provided.al2023, arm64) into bin/<fn>/bootstrap
	bash .ci/build-lambdas.sh $(BIN)

clean: ## remove build output
	rm -rf $(BIN) cdk.out

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

test-infra: ## gofmt, vet and test the CDK app (infra/, its own Go module)
	@out=$$(gofmt -l infra); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	cd infra && $(GO) vet ./... && $(GO) test -count=1 ./...

local-aws: ## install and start the local AWS stand-ins on 127.0.0.1 (DynamoDB Local; installs the Lambda emulator and the Step Functions engine)
	bash .ci/local-aws.sh install
	bash .ci/local-aws.sh start

local-aws-stop: ## stop the local AWS stand-ins
	bash .ci/local-aws.sh stop

FUZZTIME ?= 10s
FUZZ_TARGETS := ./internal/osb:FuzzHandler ./internal/osb:FuzzParseIdentity ./internal/catalog:FuzzInputSchemas \
	./internal/cloudify:FuzzAPIError ./internal/cloudify:FuzzDecodeResources

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done
