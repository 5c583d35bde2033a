# schoolgate: build, test, run.
#
#   make            build (warnings are errors, hardened)
#   make test       install what is missing, build, run every test, then
#                   the same suite under AddressSanitizer + UBSan
#   make run        install, build and run the demo (see README.md)
#   make bench      the benchmarks (scripts/bench-check, bench-seal,
#                   bench-https, bench-sftp)
#   make fuzz       build the libFuzzer targets (clang)
#   make install    install (PREFIX=/usr/local, DESTDIR for staging)
#   make uninstall  remove what install put in place (not the
#                   configuration in /etc/schoolgate, not the state)
#
# SAN=1 builds into build-san/ with -fsanitize=address,undefined.

.DEFAULT_GOAL := all

CC      ?= gcc
SAN     ?= 0
PKGS    := libconfig libarchive libcrypto cmocka libuv libsystemd libssh \
           jansson libutf8proc libseccomp

ifeq ($(SAN),1)
BUILD   ?= build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
else
BUILD   ?= build
OPT     := -O2 -g -D_FORTIFY_SOURCE=2
endif

# What pkg-config says is only known once the packages are installed, so
# it is not asked when make reads this file: build/config.mk is made by a
# rule that first runs scripts/install-deps, and GNU make reads the
# Makefile again once it has made an included file. Every target but
# clean and uninstall therefore builds with flags from after the install,
# in the same invocation (a new machine's `make run` or `make test`).
CONFIG_MK := build/config.mk
NOCONFIG_GOALS := clean uninstall deps
ifneq ($(if $(MAKECMDGOALS),$(filter-out $(NOCONFIG_GOALS),$(MAKECMDGOALS)),all),)
include $(CONFIG_MK)
endif

$(CONFIG_MK): scripts/install-deps scripts/pkg-flags Makefile
	@scripts/install-deps
	@mkdir -p $(dir $@)
	@scripts/pkg-flags "$(PKGS)" >$@.tmp && mv $@.tmp $@

# llhttp, Node's maintained HTTP parser, is compiled from the C sources
# Debian's node-llhttp installs (not copied into this repository).
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
HARDEN  := -fstack-protector-strong -fstack-clash-protection \
           -fcf-protection -fPIE
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(HARDEN) -Icommon -Idaemon \
           $(PKG_CFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed \
           $(if $(filter 1,$(SAN)),-fsanitize=address$(,)undefined)
,       := ,
LIBS    := $(PKG_LIBS) -lcsv -lpthread
TESTLIBS := $(PKG_TESTLIBS)

COMMON_SRC := $(wildcard common/*/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libschoolgate.a

CLI_SRC    := daemon/cli/schoolgate.c daemon/cli/cmd_crypt.c daemon/cli/cmd_log.c \
              daemon/cli/cmd_status.c
CLI_OBJ    := $(sort $(CLI_SRC:%.c=$(BUILD)/%.o))
CLI        := $(BUILD)/schoolgate

DAEMON_SRC := $(wildcard daemon/*.c daemon/front/*.c daemon/core/*.c \
              daemon/pipeline/*.c)
LLHTTP_OBJ := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o \
              $(BUILD)/llhttp/http.o
DAEMON_OBJ := $(sort $(DAEMON_SRC:%.c=$(BUILD)/%.o)) $(BUILD)/gen/web_assets.o \
              $(LLHTTP_OBJ)
DAEMON     := $(BUILD)/schoolgated
DAEMONLIBS := $(PKG_DAEMONLIBS)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS      := $(BUILD)/tools/gencensus $(BUILD)/tools/csvbare \
              $(BUILD)/tools/sgwriter $(BUILD)/tools/logbench \
              $(BUILD)/tools/slowsync.so

.PHONY: all deps test check unit corpus fuzz fuzz-smoke bench run clean \
        test-plain test-san install uninstall

all: $(LIB) $(CLI) $(DAEMON) $(TOOLS)

deps:
	@scripts/install-deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The HTTPS front (front/http.h) includes llhttp.h; llhttp's generated C is built with our
# optimisation, hardening and sanitizers but not our warning set.
# LLHTTP_STRICT_MODE: CRLF only (no bare LF), no lax header characters.
LLHTTP_FLAGS := -isystem $(LLHTTP_INC) -DLLHTTP_STRICT_MODE=1
$(BUILD)/daemon/front/tls_link.o $(BUILD)/daemon/front/http.o \
$(BUILD)/daemon/front/api.o $(BUILD)/daemon/front/webpage.o: CFLAGS += $(LLHTTP_FLAGS)
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(HARDEN) -w $(LLHTTP_FLAGS) -c $< -o $@

# The web page: GOV.UK Frontend and sass from npm (pinned by daemon/web's
# package-lock.json, fetched into build/npm, never committed) and our
# templates, CSS, script, mark and manifest, embedded into the daemon as
# one C file. The stylesheet is built from GOV.UK Frontend's Sass by
# daemon/web/govuk.scss with the system fonts (GDS Transport is for gov.uk
# domains only), so no GOV.UK font or image is embedded.
NPM_WEB    := build/npm/web
GOVUK      := $(NPM_WEB)/node_modules/govuk-frontend/dist/govuk
WEB_CSS    := $(NPM_WEB)/schoolgate.css
WEB_SASS   := $(wildcard daemon/web/*.scss)
WEB_OWN    := $(wildcard daemon/web/*.html daemon/web/*.js daemon/web/*.css \
              daemon/web/images/*.svg) daemon/web/manifest.json
WEB_GOVUK  := govuk-frontend.min.js
WEB_EMBED  := $(foreach f,$(WEB_GOVUK),/assets/$(f)=$(GOVUK)/$(f)) \
              /assets/schoolgate.css=$(WEB_CSS) \
              $(foreach f,$(filter %.html,$(WEB_OWN)),tmpl/$(notdir $(f))=$(f)) \
              $(foreach f,$(filter-out %.html,$(WEB_OWN)),/assets/$(patsubst daemon/web/%,%,$(f))=$(f))

$(GOVUK)/govuk-frontend.min.css: daemon/web/package.json daemon/web/package-lock.json
	@scripts/fetch-npm daemon/web $(NPM_WEB)

# compressed, no source map, no error stylesheet; written whole or not
$(WEB_CSS): $(WEB_SASS) $(GOVUK)/govuk-frontend.min.css
	@$(NPM_WEB)/node_modules/.bin/sass --no-source-map --no-error-css \
	    --no-charset --style=compressed --load-path=$(NPM_WEB)/node_modules \
	    daemon/web/govuk.scss $@.$$$$.tmp && mv $@.$$$$.tmp $@

$(BUILD)/gen/web_assets.c: scripts/embed-assets $(WEB_OWN) $(WEB_CSS) \
    $(GOVUK)/govuk-frontend.min.css
	@mkdir -p $(dir $@)
	@scripts/embed-assets $@ $(WEB_EMBED)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c daemon/front/web_assets.h
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LIBS)

$(DAEMON): $(DAEMON_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIB) $(DAEMONLIBS) $(LIBS)

# A test build only: the daemon with the sandboxed processes' attack hook
# (SG_ATTACK_HOOK, tests/daemon/privsep); tests/check-hardening proves
# that schoolgated has none of it.
ATTACK     := $(BUILD)/tests/schoolgated-attack
ATTACK_SRC := daemon/proc.c daemon/pipeline/intake_proc.c daemon/front/ssh.c \
              daemon/front/tls_front.c
ATTACK_OBJ := $(filter-out $(patsubst %.c,$(BUILD)/%.o,$(ATTACK_SRC)),$(DAEMON_OBJ)) \
              $(patsubst %.c,$(BUILD)/tests/attack/%.o,$(ATTACK_SRC))
$(BUILD)/tests/attack/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DSG_ATTACK_HOOK -MMD -MP -c $< -o $@
$(ATTACK): $(ATTACK_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(ATTACK_OBJ) $(LIB) $(DAEMONLIBS) $(LIBS)

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS)

# an LD_PRELOAD shim for the tests (a disk slow on demand); never
# sanitized itself, as it is loaded ahead of everything
$(BUILD)/tools/slowsync.so: tests/tools/slowsync.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS) $(TESTLIBS)
# the SSH front door's SFTP parser, which lives with the front
$(BUILD)/tests/test_sftp_wire: tests/unit/test_sftp_wire.c \
                               daemon/front/sftp_wire.c daemon/front/sftp_wire.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Idaemon $(LDFLAGS) -o $@ $< daemon/front/sftp_wire.c \
	    $(TESTLIBS)

# The suite for one build (BUILD/SAN): unit tests, then the command-line
# and hostile-input corpus driven through the real `schoolgate` binary.
check: all $(UNIT_BIN) $(ATTACK)
	@tests/check-layering
	@tests/run-unit $(BUILD)
	@tests/corpus/run $(BUILD)
	@tests/age/kit $(BUILD)
	@tests/store/run $(BUILD)
	@BUILD=$(BUILD) tests/daemon/run
	@BUILD=$(BUILD) tests/daemon/sftp
	@BUILD=$(BUILD) tests/daemon/scan
	@BUILD=$(BUILD) tests/daemon/privsep
	@BUILD=$(BUILD) tests/daemon/matrix
	@BUILD=$(BUILD) tests/daemon/lifecycle
	@BUILD=$(BUILD) tests/daemon/dpo
	@BUILD=$(BUILD) tests/daemon/crash
	@BUILD=$(BUILD) tests/daemon/crash --sftp
	@BUILD=$(BUILD) tests/daemon/journal
	@BUILD=$(BUILD) tests/daemon/ops
	@scripts/fetch-npm tests/web build/npm/tests
	@BUILD=$(BUILD) tests/web/run
ifeq ($(SAN),0)
	@tests/check-hardening $(BUILD)
	@BUILD=$(BUILD) tests/ops/run
	@BUILD=$(BUILD) tests/daemon/demo
endif

test-plain:
	@$(MAKE) --no-print-directory SAN=0 check

test-san:
	@$(MAKE) --no-print-directory SAN=1 check

test: test-plain test-san fuzz-smoke

# libFuzzer targets (clang); a short smoke run belongs to `make test`.
FUZZ_BUILD := build-fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Icommon \
              -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
FUZZ_BIN   := $(FUZZ_BUILD)/fuzz_csvcheck $(FUZZ_BUILD)/fuzz_config \
              $(FUZZ_BUILD)/fuzz_zipin $(FUZZ_BUILD)/fuzz_msg \
              $(FUZZ_BUILD)/fuzz_age $(FUZZ_BUILD)/fuzz_vpath \
              $(FUZZ_BUILD)/fuzz_wire $(FUZZ_BUILD)/fuzz_sftp \
              $(FUZZ_BUILD)/fuzz_http $(FUZZ_BUILD)/fuzz_sshlink

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(COMMON_SRC) common/*/*.h
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_FLAGS) -o $@ $< $(COMMON_SRC) $(LIBS)

# a front door's handler, with the real access authority and the rest of
# the core answered in memory (tests/fuzz/core_stub.c)
FUZZ_CORE := tests/fuzz/core_stub.c daemon/core/access.c \
             daemon/core/agreements.c
FUZZ_SFTP := daemon/front/sftp.c daemon/front/sftp_wire.c
$(FUZZ_BUILD)/fuzz_sftp: tests/fuzz/fuzz_sftp.c $(FUZZ_SFTP) \
                         $(FUZZ_CORE) tests/fuzz/core_stub.h daemon/gw.h \
                         daemon/front/sftp_wire.h $(COMMON_SRC) common/*/*.h
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_FLAGS) -Idaemon -o $@ $< $(FUZZ_SFTP) \
	    $(FUZZ_CORE) $(COMMON_SRC) $(LIBS)
# the core's side of the SSH front door (ssh_link.c) driven as a
# compromised front would drive it, over the real SFTP module
FUZZ_LINK := daemon/front/ssh_link.c daemon/front/fproc.c daemon/front/sftp.c \
             daemon/front/listen.c daemon/proc.c
$(FUZZ_BUILD)/fuzz_sshlink: tests/fuzz/fuzz_sshlink.c $(FUZZ_LINK) \
                            $(FUZZ_CORE) tests/fuzz/core_stub.h daemon/gw.h \
                            daemon/front/ssh_wire.h $(COMMON_SRC) common/*/*.h
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_FLAGS) -DSG_FUZZ_LINK -Idaemon -o $@ $< $(FUZZ_LINK) \
	    $(FUZZ_CORE) $(COMMON_SRC) $(DAEMONLIBS) $(LIBS)
# the HTTPS front after TLS (the target is tls.c), with the web page's
# assets as the release build embeds them
FUZZ_HTTP := daemon/front/http.c daemon/front/api.c daemon/front/webpage.c \
             daemon/front/web.c daemon/front/listen.c \
             $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
$(FUZZ_BUILD)/fuzz_http: tests/fuzz/fuzz_http.c $(FUZZ_HTTP) $(FUZZ_CORE) \
                         tests/fuzz/core_stub.h daemon/gw.h \
                         daemon/front/http.h $(BUILD)/gen/web_assets.c \
                         $(COMMON_SRC) common/*/*.h
	@mkdir -p $(FUZZ_BUILD)
	clang $(FUZZ_FLAGS) $(LLHTTP_FLAGS) -Idaemon -o $@ $< $(FUZZ_HTTP) \
	    $(FUZZ_CORE) \
	    $(BUILD)/gen/web_assets.c $(COMMON_SRC) $(DAEMONLIBS) $(LIBS)

fuzz: $(FUZZ_BIN)

fuzz-smoke: fuzz
	@tests/fuzz/smoke $(FUZZ_BUILD)

bench: all
	@scripts/bench-check
	@scripts/bench-seal
	@scripts/bench-https
	@scripts/bench-sftp
	@scripts/bench-index

run: all
	@scripts/demo

# Installation (FHS). The configuration directory is /etc/schoolgate and
# the state /var/lib/schoolgate whatever PREFIX is: the units name them.
PREFIX     ?= /usr/local
BINDIR     := $(PREFIX)/bin
SBINDIR    := $(PREFIX)/sbin
MANDIR     := $(PREFIX)/share/man
DOCDIR     := $(PREFIX)/share/doc/schoolgate
LIBDIR_SD  := $(PREFIX)/lib/systemd
UNITDIR    := $(LIBDIR_SD)/system
CATALOGDIR := $(LIBDIR_SD)/catalog
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
TMPFILESDIR := $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR := /etc/schoolgate
# INSTALL_CONFIG=no: no /etc/schoolgate, no user (scripts/build-deb)
INSTALL_CONFIG ?= yes
EXAMPLES   := config/schoolgate.conf config/parties.conf config/la-codes.conf
MANPAGES   := daemon/schoolgate.1 config/schoolgate.conf.5 daemon/schoolgated.8

# Not `all`: install what is built (so `sudo make install` after `make`
# does not build as root).
install:
	@test -x $(CLI) -a -x $(DAEMON) \
	    || { echo "make install: run make first" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(CATALOGDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples/agreements
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/schoolgate
	install -m 755 $(DAEMON) $(DESTDIR)$(SBINDIR)/schoolgated
	install -m 644 daemon/schoolgate.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 config/schoolgate.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 daemon/schoolgated.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/schoolgated.service.in \
	    > $(DESTDIR)$(UNITDIR)/schoolgated.service
	chmod 644 $(DESTDIR)$(UNITDIR)/schoolgated.service
	install -m 644 systemd/schoolgated-https.socket \
	    systemd/schoolgated-sftp.socket $(DESTDIR)$(UNITDIR)/
	install -m 644 systemd/schoolgate.catalog $(DESTDIR)$(CATALOGDIR)/
	install -m 644 systemd/schoolgate.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/schoolgate.conf
	install -m 644 systemd/schoolgate.tmpfiles \
	    $(DESTDIR)$(TMPFILESDIR)/schoolgate.conf
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 config/agreements/*.conf \
	    $(DESTDIR)$(DOCDIR)/examples/agreements/
	@if [ "$(INSTALL_CONFIG)" != no ]; then scripts/install-post make \
	    "$(DESTDIR)" "$(DOCDIR)/examples" "$(SYSCONFDIR)"; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/schoolgate $(DESTDIR)$(SBINDIR)/schoolgated \
	    $(DESTDIR)$(MANDIR)/man1/schoolgate.1 \
	    $(DESTDIR)$(MANDIR)/man5/schoolgate.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/schoolgated.8 \
	    $(DESTDIR)$(UNITDIR)/schoolgated.service \
	    $(DESTDIR)$(UNITDIR)/schoolgated-https.socket \
	    $(DESTDIR)$(UNITDIR)/schoolgated-sftp.socket \
	    $(DESTDIR)$(CATALOGDIR)/schoolgate.catalog \
	    $(DESTDIR)$(SYSUSERSDIR)/schoolgate.conf \
	    $(DESTDIR)$(TMPFILESDIR)/schoolgate.conf
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "make uninstall: kept $(SYSCONFDIR) (configuration, keys) and" \
	    "/var/lib/schoolgate (the store and transfer log): remove them" \
	    "by hand only when the data's retention allows"

clean:
	rm -rf build build-san build-fuzz

-include $(COMMON_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d)
