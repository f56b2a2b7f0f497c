/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_cxx.cpp - htd.h from C++: it compiles as C++17, and every function it
 * declares links against build/libhtd.so with C linkage (a missing extern "C"
 * would ask for mangled names, a missing HTD_API for a hidden one). Exits
 * non-zero if the library's version is not the header's, or if the code it
 * runs is not the shared library's (libhtd.so.MAJOR, by its soname).
 */
#include "htd.h"

#include <cstdio>
#include <cstring>
#include <link.h>

/* Every function of htd.h, so the link must find each. */
static void (*const api[])() = {
    reinterpret_cast<void (*)()>(&htd_version),
    reinterpret_cast<void (*)()>(&htd_server_new_sized),
    reinterpret_cast<void (*)()>(&htd_server_handle),
    reinterpret_cast<void (*)()>(&htd_server_address),
    reinterpret_cast<void (*)()>(&htd_server_root),
    reinterpret_cast<void (*)()>(&htd_server_run),
    reinterpret_cast<void (*)()>(&htd_server_start),
    reinterpret_cast<void (*)()>(&htd_server_fd),
    reinterpret_cast<void (*)()>(&htd_server_timeout),
    reinterpret_cast<void (*)()>(&htd_server_run_once),
    reinterpret_cast<void (*)()>(&htd_server_stop),
    reinterpret_cast<void (*)()>(&htd_server_free),
    reinterpret_cast<void (*)()>(&htd_server_reload),
    reinterpret_cast<void (*)()>(&htd_server_reopen_logs),
    reinterpret_cast<void (*)()>(&htd_config_check),
    reinterpret_cast<void (*)()>(&htd_req_method),
    reinterpret_cast<void (*)()>(&htd_req_version),
    reinterpret_cast<void (*)()>(&htd_req_target),
    reinterpret_cast<void (*)()>(&htd_req_path),
    reinterpret_cast<void (*)()>(&htd_req_query),
    reinterpret_cast<void (*)()>(&htd_req_host),
    reinterpret_cast<void (*)()>(&htd_req_vhost),
    reinterpret_cast<void (*)()>(&htd_req_peer),
    reinterpret_cast<void (*)()>(&htd_req_peer_addr),
    reinterpret_cast<void (*)()>(&htd_req_body),
    reinterpret_cast<void (*)()>(&htd_req_header),
    reinterpret_cast<void (*)()>(&htd_req_header_at),
    reinterpret_cast<void (*)()>(&htd_req_alloc),
    reinterpret_cast<void (*)()>(&htd_req_strdup),
    reinterpret_cast<void (*)()>(&htd_resp_header),
    reinterpret_cast<void (*)()>(&htd_respond),
};

static int handler(htd_req *req, void *)
{
    return htd_respond(req, 200, "text/plain", "x", 1) == 0 ? HTD_DONE : HTD_DECLINED;
}

int main()
{
    static_assert(HTD_VERSION_NUM >= 0x000100, "HTD_VERSION_NUM is 0xMMmmpp");
    int failed = 0;
    for (auto f : api)
        failed += f == nullptr;
    htd_handler_fn fn = handler;
    htd_config cfg{};
    cfg.threads = 1;
    char err[256];
    /* The macro, as C programs use it; a bad config fails before binding. */
    cfg.root = "/nonexistent/htd-test-cxx";
    htd_server *s = htd_server_new(&cfg, err, sizeof err);
    failed += s != nullptr;
    htd_server_free(s);
    failed += fn == nullptr;
    if (std::strcmp(htd_version(), HTD_VERSION) != 0) failed++;
    /* Loaded by its soname, not linked in: what a program linked with -lhtd
     * runs. (The objects loaded, not the address of a function, which in a
     * program built without PIE is a stub of the program's own.) */
    struct loaded {
        char soname[64];
        int found;
    } want{};
    std::snprintf(want.soname, sizeof want.soname, "/libhtd.so.%d", HTD_VERSION_MAJOR);
    dl_iterate_phdr(
        [](struct dl_phdr_info *info, size_t, void *arg) {
            auto w = static_cast<loaded *>(arg);
            if (info->dlpi_name && std::strstr(info->dlpi_name, w->soname)) w->found = 1;
            return 0;
        },
        &want);
    if (!want.found) {
        std::printf("tests/test_cxx.cpp: %s is not loaded\n", want.soname + 1);
        failed++;
    }
    std::printf("tests/test_cxx.cpp: htd %s from C++, %d failed checks\n", htd_version(), failed);
    return failed ? 1 : 0;
}
