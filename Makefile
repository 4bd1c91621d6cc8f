# vnf: `make` builds everything, `make test` installs what is missing, builds
# and runs all test tiers, `make demo` shows it working. See README.md.
SHELL := /bin/bash
CLANG ?= clang
BPFTOOL ?= bpftool
BUILD := build
ARCH := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(BUILD)/include -Ibpf -Ibpf/include

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
TEST_BPF_SRCS := $(wildcard test/bpf/progs/*.bpf.c)
TEST_BPF_OBJS := $(patsubst test/bpf/progs/%.bpf.c,$(BUILD)/test-bpf/%.bpf.o,$(TEST_BPF_SRCS))
# The bench's own programs: a null tcx forwarder (BPF) and a TCP ping-pong (C).
BENCH_BPF_SRCS := $(wildcard bench/progs/*.bpf.c)
BENCH_BPF_OBJS := $(patsubst bench/progs/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(BENCH_BPF_SRCS))
BENCH_TOOLS := $(BUILD)/bench/pingpong
BPF_HDRS := $(shell find bpf -name '*.h') $(wildcard test/bpf/progs/*.h)
VMLINUX := $(BUILD)/include/vmlinux.h
ADDON := $(BUILD)/Release/vnf_native.node
NATIVE_SRCS := $(wildcard native/*.cc native/*.h) binding.gyp
TS_STAMP := dist/.stamp
ABI_HDRS := $(wildcard bpf/abi/*.h)
ABI_TS := $(patsubst bpf/abi/%.h,src/abi/%.ts,$(ABI_HDRS))
TS_SRCS := $(shell find src cli bench -name '*.ts' -not -path 'src/abi/*' 2>/dev/null) $(ABI_TS) tsconfig.json

TAP := npx tap
TEST_TIERS ?= test/unit test/bpf test/integration

.PHONY: all build deps bpf addon abi ts bench-progs schema cni-install test-setup test test-unit test-bpf test-integration demo bench clean

all: build
build: bpf addon ts bench-progs

deps:
	@scripts/deps.sh

$(VMLINUX):
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(VMLINUX)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/test-bpf/%.bpf.o: test/bpf/progs/%.bpf.c $(BPF_HDRS) $(VMLINUX)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -Itest/bpf/progs -c $< -o $@

bpf: $(BPF_OBJS) $(TEST_BPF_OBJS)

# entry_nomon.bpf.c includes bpf/entry.bpf.c: the kernel sources and headers are its inputs too.
$(BUILD)/bench/%.bpf.o: bench/progs/%.bpf.c $(BPF_SRCS) $(BPF_HDRS) $(VMLINUX)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/pingpong: bench/progs/pingpong.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Werror -o $@ $<

bench-progs: $(BENCH_BPF_OBJS) $(BENCH_TOOLS)

# `configure build`, never `rebuild`: rebuild would wipe build/ and the BPF objects in it.
$(ADDON): $(NATIVE_SRCS)
	npx --no-install node-gyp configure build --loglevel=warn
	@touch $@

addon: $(ADDON)

# Constants shared with the kernel programs, generated from the ABI headers (never written by hand).
$(ABI_TS) &: $(ABI_HDRS) scripts/gen-abi.mjs
	node scripts/gen-abi.mjs src/abi $(ABI_HDRS)

abi: $(ABI_TS)

$(TS_STAMP): $(TS_SRCS)
	npx --no-install tsc -p tsconfig.json
	@chmod +x dist/cli/main.js 2>/dev/null || true
	@touch $@

# One executable bundle: $(1) the entry (cli/X.ts), $(2) its name (dist/$(2).js, chunks in
# dist/$(2)/), $(3) extra esbuild flags. A banner gives the ESM bundle a `require` for the
# packages that load lazily from node_modules.
define bundle
	@rm -rf dist/$(2)
	npx --no-install esbuild $(1) --bundle --platform=node --format=esm --splitting $(3) \
	  --outdir=dist/$(2) --entry-names=main --chunk-names=[name]-[hash] --log-level=warning \
	  --banner:js="import { createRequire as __vnfRequire } from 'node:module'; const require = __vnfRequire(import.meta.url);"
	printf '#!/usr/bin/env node\nimport "./$(2)/main.js";\n' > $@
	@chmod +x $@
endef

# vnf-ctl as one bundle (plus lazily loaded chunks, one per command): a CLI people run all day
# should not spend its start resolving and compiling hundreds of small modules.
CLI_BUNDLE := dist/vnf-ctl.js
# The build's identity for `vnf-ctl version`: the commit (with -dirty for local changes), or unknown.
BUILD_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(CLI_BUNDLE): $(TS_STAMP)
	$(call bundle,cli/main.ts,vnf-ctl,--define:VNF_BUILD_COMMIT='"$(BUILD_COMMIT)"')

# The topology file's JSON Schema, shipped for editors (the examples point at it); a unit test
# (test/unit/spec/json-schema-file.test.ts) fails when it differs from what vnf-ctl schema prints.
schema: $(CLI_BUNDLE)
	node $(CLI_BUNDLE) schema > docs/topology.schema.json

# The CNI plugin, bundled the same way: a runtime starts it once per container.
CNI_BUNDLE := dist/vnf-cni.js
$(CNI_BUNDLE): $(TS_STAMP)
	$(call bundle,cli/cni.ts,vnf-cni)

# The per-host agent, bundled the same way. etcd3 stays outside the bundle (it reads its .proto
# files next to itself): it is required from node_modules when the agent or a --store command runs.
AGENT_BUNDLE := dist/vnf-agent.js
$(AGENT_BUNDLE): $(TS_STAMP)
	$(call bundle,cli/agent.ts,vnf-agent)

ts: $(TS_STAMP) $(CLI_BUNDLE) $(CNI_BUNDLE) $(AGENT_BUNDLE)

# Installs the CNI plugin where runtimes look for it: a small wrapper that runs this checkout's build.
CNI_DIRS ?= /usr/lib/cni /opt/cni/bin
cni-install: $(CNI_BUNDLE)
	@scripts/cni-install.sh "$(abspath $(CNI_BUNDLE))" $(CNI_DIRS)

test: deps
	@$(MAKE) --no-print-directory build test-setup
	@scripts/run-tests.sh $(TEST_TIERS)

# What the CNI tests need besides the build: podman with CNI networks (installed when missing)
# and the vnf plugin where runtimes look for it.
test-setup: cni-install
	@scripts/podman-setup.sh

test-unit: build
	@scripts/run-tests.sh test/unit
test-bpf: build
	@scripts/run-tests.sh test/bpf
test-integration: build test-setup
	@scripts/run-tests.sh test/integration

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh

# make bench [BENCH_ARGS=--quick]  (or: make bench -- --quick is not make syntax; use BENCH_ARGS)
# The cni scenario runs podman and this checkout's plugin: test-setup installs them when missing.
bench: deps
	@$(MAKE) --no-print-directory build test-setup
	@node dist/bench/run.js $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) dist src/abi
