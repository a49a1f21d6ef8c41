/* main.c - the opsbell binary: everything is a subcommand (see cli/). */
#include "cli/cli.h"
#include "util/log.h"

#include <curl/curl.h>

int main(int argc, char **argv)
{
    int rc;

    /* Commands stay quiet but for warnings; `serve` takes its level from the configuration. */
    log_init(LOG_LEVEL_WARN, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cli_main(argc, argv);
    curl_global_cleanup();
    return rc;
}
