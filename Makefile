# opsbell - front door.  `make run` and `make check` are the two commands a new
# machine needs; everything else is here for developers.
#
#   make              developer build (-Werror) into build/dev/
#   make BUILD=asan   ASan+UBSan build into build/asan/
#   make BUILD=release
#   make run          bootstrap, build, serve the example configuration
#   make check        bootstrap, build, run every test; last line "N passed, N failed"
#   make unit         unit tests only (current BUILD)
#   make fuzz         build the libFuzzer targets (clang) into build/fuzz/
#   make format       clang-format -i every source file (format-check: verify only)
#   make lint         cppcheck over src/
#   make bench        ingestion benchmark against Alertmanager (bench/, docs/PERFORMANCE.md)
#   make bench-engine, bench-notify   escalation-engine and notification-latency benchmarks
#   make bench-sip    concurrent SIP calls against baresip callees
#   make bench-nft    1,000 allowlist entries in one nftables transaction (root)
#   make bench-keys   AuthorizedKeysCommand latency (10,000 users, 30,000 keys)
#   make deps         install missing Debian packages (scripts/bootstrap.sh)

.DEFAULT_GOAL := all

BUILD   ?= dev
BUILDDIR := build/$(BUILD)
CC      ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

PKGS := libmicrohttpd jansson libcyaml yaml-0.1 sqlite3 libpq libcrypto libcurl libical libnftables libxml-2.0 libgit2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# SIP voice (src/sip, src/tts): libre/librem ship pkg-config files; flite does not.
# libre 1.1.0 wants these defines before <re.h> (only src/sip/*.c include it).
SIP_CFLAGS := $(shell pkg-config --cflags libre librem 2>/dev/null) \
	-DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6
SIP_LIBS   := $(shell pkg-config --libs libre librem 2>/dev/null)
FLITE_LIBS := -lflite_cmu_us_kal -lflite_usenglish -lflite_cmulex -lflite
PKG_CFLAGS += $(SIP_CFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

# The version and commit live in a generated header that is rewritten only
# when they change, so that a new commit rebuilds exactly what prints them.
GEN_DIR   := build/gen
VERSION_H := $(GEN_DIR)/opsbell_version.h

BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -I$(GEN_DIR) $(PKG_CFLAGS) -MMD -MP \
	-Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -fno-strict-aliasing
LDLIBS := $(PKG_LIBS) $(SIP_LIBS) $(FLITE_LIBS) -lpthread -lm

ifeq ($(BUILD),dev)
CFLAGS_MODE := -O1 -g -Werror
else ifeq ($(BUILD),asan)
CFLAGS_MODE := -O1 -g -Werror -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LDFLAGS_MODE := -fsanitize=address,undefined
else ifeq ($(BUILD),release)
CFLAGS_MODE := -O2 -g -DNDEBUG
else
$(error BUILD must be dev, asan or release)
endif

CFLAGS_ALL := $(BASE_CFLAGS) $(CFLAGS_MODE) $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS_MODE) $(LDFLAGS)

SRCS      := $(shell find src -name '*.c' | sort)
LIB_SRCS  := $(filter-out src/main.c src/front.c,$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILDDIR)/%.o)
MAIN_OBJ  := $(BUILDDIR)/src/main.o
LIB       := $(BUILDDIR)/libopsbell.a
# `opsbell` is a small front (src/front.c: libc + libyaml) that answers sshd's
# `keys authorized-keys` itself and execs opsbell-core, the whole program,
# for everything else: loading every library costs ~14 ms (docs/PERFORMANCE.md).
BIN       := $(BUILDDIR)/opsbell
CORE      := $(BUILDDIR)/opsbell-core
FRONT_OBJS := $(addprefix $(BUILDDIR)/src/,front.o keys/authkeys.o keys/cache.o util/error.o util/file.o)
CORE_INSTALL_PATH := /usr/local/lib/opsbell/opsbell-core

UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c tests/store/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILDDIR)/%)
TEST_HELPERS := $(wildcard tests/unit/helpers/*.c)
# The store suites share one harness: a clean database, the connections a test holds.
STORE_TEST_BINS    := $(filter $(BUILDDIR)/tests/store/%,$(UNIT_BINS))
STORE_TEST_HELPERS := tests/store/store_harness.c

.PHONY: all run check unit fuzz format format-check lint deps clean install e2e bench bench-engine bench-notify bench-sip bench-nft bench-keys FORCE

$(VERSION_H): FORCE
	@mkdir -p $(GEN_DIR)
	@printf '#define OPSBELL_VERSION "%s"\n#define OPSBELL_COMMIT "%s"\n' '$(VERSION)' '$(GIT_COMMIT)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

all: $(BIN) $(CORE) $(UNIT_BINS)

$(BUILDDIR)/%.o: %.c | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(CORE): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILDDIR)/src/front.o: CFLAGS_ALL += -DOPSBELL_CORE_PATH='"$(CORE_INSTALL_PATH)"'
$(BIN): $(FRONT_OBJS) | $(CORE)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(shell pkg-config --libs yaml-0.1)

$(BUILDDIR)/tests/%: tests/%.c $(LIB) $(TEST_HELPERS) | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(TEST_HELPERS) $(SUITE_HELPERS) $(LIB) $(LDFLAGS_ALL) $(LDLIBS) -lcmocka

$(STORE_TEST_BINS): SUITE_HELPERS := $(STORE_TEST_HELPERS)
$(STORE_TEST_BINS): $(STORE_TEST_HELPERS) tests/store/store_harness.h

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(BUILDDIR)

# ---- fuzzing (clang + libFuzzer, with ASan+UBSan) ------------------------------
FUZZ_DIR   := build/fuzz
FUZZ_SRCS  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/%.o)
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Isrc -I$(GEN_DIR) $(PKG_CFLAGS) -g -O1 \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

# Keep the fuzz objects between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_LIB_OBJS)

fuzz: $(FUZZ_BINS)

$(FUZZ_DIR)/src/%.o: src/%.c | $(VERSION_H)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Ifuzz -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(LDLIBS)

# ---- the two commands ----------------------------------------------------------
run:
	@scripts/bootstrap.sh
	@$(MAKE) --no-print-directory BUILD=dev $(BUILDDIR)/opsbell
	@scripts/run-example.sh build/dev/opsbell

check:
	@scripts/bootstrap.sh
	@scripts/check.sh

e2e: $(BIN)
	@OPSBELL_BIN=$(abspath $(BIN)) python3 -m pytest -q tests/e2e

deps:
	@scripts/bootstrap.sh

# Ingestion benchmark against Prometheus Alertmanager (docs/PERFORMANCE.md).
bench:
	@bench/ingest/run.sh

# Escalation-engine benchmark: 100,000 due steps on SQLite and PostgreSQL, oncall timing.
bench-engine:
	@bench/engine/run.sh

# Notification latency: 1,000 alerts at 200/s, 2xx to the provider call (log, webhook).
bench-notify:
	@bench/notify/run.sh

# Concurrent SIP calls: N baresip callees (5 to 160) paged at once, until a call is lost.
bench-sip:
	@bench/sip/run.sh

# nftables: 1,000 allowlist entries in one transaction vs one `nft` call each (root).
bench-nft:
	@bench/nft/run.sh

# AuthorizedKeysCommand latency: `opsbell keys authorized-keys USER`, whole process, p50/p99.
bench-keys:
	@bench/keys/run.sh

format:
	clang-format -i $$(find src tests fuzz -name '*.[ch]')

format-check:
	clang-format --dry-run --Werror $$(find src tests fuzz -name '*.[ch]')

# Static checks beyond the compiler's warnings.
lint: $(VERSION_H)
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
		--inline-suppr -Isrc -I$(GEN_DIR) -D__GNUC__ src

install: $(BIN) $(CORE)
	install -D -m 0755 $(BIN) $(DESTDIR)/usr/local/bin/opsbell
	install -D -m 0755 $(CORE) $(DESTDIR)$(CORE_INSTALL_PATH)
	install -D -m 0644 man/opsbell.1 $(DESTDIR)/usr/local/share/man/man1/opsbell.1
	install -D -m 0644 man/opsbell.yaml.5 $(DESTDIR)/usr/local/share/man/man5/opsbell.yaml.5

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(BUILDDIR)/src/front.d $(FUZZ_LIB_OBJS:.o=.d)
