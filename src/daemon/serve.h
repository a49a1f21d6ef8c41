/* serve.h - the `opsbell serve` daemon. */
#ifndef OPSBELL_DAEMON_SERVE_H
#define OPSBELL_DAEMON_SERVE_H

/*
 * Run the daemon until SIGINT or SIGTERM. listen_override ("HOST:PORT") may
 * be NULL. Returns the process exit status (0 after a clean shutdown).
 */
int serve_run(const char *config_path, const char *listen_override);

#endif
