/* commands.c - the table of `opsbell` commands and their --help texts. */
#include "cli/cli.h"
#include "keys/keys.h"

int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_token_create(int argc, char **argv);
int cmd_token_list(int argc, char **argv);
int cmd_token_revoke(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_team_list(int argc, char **argv);
int cmd_team_show(int argc, char **argv);
int cmd_service_list(int argc, char **argv);
int cmd_user_list(int argc, char **argv);
int cmd_audit_list(int argc, char **argv);
int cmd_config_reload(int argc, char **argv);
int cmd_alert_send(int argc, char **argv);
int cmd_incident_list(int argc, char **argv);
int cmd_incident_show(int argc, char **argv);
int cmd_incident_ack(int argc, char **argv);
int cmd_incident_resolve(int argc, char **argv);
int cmd_incident_escalate(int argc, char **argv);
int cmd_incident_note(int argc, char **argv);
int cmd_silence_add(int argc, char **argv);
int cmd_silence_list(int argc, char **argv);
int cmd_silence_expire(int argc, char **argv);
int cmd_oncall(int argc, char **argv);
int cmd_tel(int argc, char **argv);
int cmd_contact_list(int argc, char **argv);
int cmd_contact_verify(int argc, char **argv);
int cmd_contact_confirm(int argc, char **argv);
int cmd_contact_trust(int argc, char **argv);
int cmd_override_add(int argc, char **argv);
int cmd_override_list(int argc, char **argv);
int cmd_override_delete(int argc, char **argv);
int cmd_schedule_list(int argc, char **argv);
int cmd_schedule_show(int argc, char **argv);
int cmd_policy_list(int argc, char **argv);
int cmd_policy_show(int argc, char **argv);
int cmd_ical_create(int argc, char **argv);
int cmd_ical_list(int argc, char **argv);
int cmd_ical_revoke(int argc, char **argv);
int cmd_breakglass_request(int argc, char **argv);
int cmd_breakglass_approve(int argc, char **argv);
int cmd_breakglass_deny(int argc, char **argv);
int cmd_breakglass_revoke(int argc, char **argv);
int cmd_breakglass_list(int argc, char **argv);
int cmd_breakglass_show(int argc, char **argv);
int cmd_allowlist_list(int argc, char **argv);
int cmd_cert_ca_pubkey(int argc, char **argv);
int cmd_cert_sign(int argc, char **argv);
int cmd_cert_krl(int argc, char **argv);
int cmd_enforce_nft(int argc, char **argv);
int cmd_enforce_aws(int argc, char **argv);
int cmd_keys_sync(int argc, char **argv);
int cmd_keys_list(int argc, char **argv);
int cmd_keys_authorized_keys(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#define CONFIG_OPT                                                                                 \
    "  -c, --config FILE   main configuration file (default: $OPSBELL_CONFIG, ./opsbell.yaml,\n"   \
    "                      /etc/opsbell/opsbell.yaml)\n"
#define TIME_FORMS                                                                                 \
    "TIME is RFC 3339 (2026-03-08T06:30:00Z, 2026-03-08T01:30:00-05:00), a local time in the\n"    \
    "schedule's time zone (2026-03-08T01:30 or '2026-03-08 01:30'), now, or now plus or\n"         \
    "minus a duration (+2h, -30m, +1d).\n"
#define CLIENT_ENV                                                                                 \
    "\nTalks to the server at $OPSBELL_URL (default http://127.0.0.1:8080) with the token in\n"    \
    "$OPSBELL_TOKEN.\n"

const struct cli_command cli_commands[] = {
    {"serve", NULL, cmd_serve, "run the daemon",
     "usage: opsbell serve [-c FILE] [--listen HOST:PORT]\n\n"
     "Run the opsbell daemon: HTTP API, ingestion and (in later releases) the engine.\n"
     "SIGHUP reloads the configuration; an invalid one is refused and the old one stays.\n"
     "SIGINT and SIGTERM stop it.\n\n" CONFIG_OPT
     "  -l, --listen ADDR   HOST:PORT to listen on instead of the file's 'listen'\n"},
    {"check-config", NULL, cmd_check_config, "validate the configuration",
     "usage: opsbell check-config [-c FILE] [-q] [FILE]\n\n"
     "Load and validate the configuration (main file, users file, team directories).\n"
     "Prints every problem as FILE:LINE:COL: message and exits 1, or exits 0.\n\n" CONFIG_OPT
     "  -q, --quiet         print nothing when the configuration is valid\n"},
    {"version", NULL, cmd_version, "print the version",
     "usage: opsbell version [--json]\n\nPrint the version, commit and schema version.\n"},
    {"token", "create", cmd_token_create, "create an API token (on the configured store)",
     "usage: opsbell token create --name NAME --scope read|write|admin [--team TEAM]\n"
     "                            [--user USER | --agent HOST] [--expires DURATION]\n"
     "                            [-c FILE] [--json]\n\n"
     "Create an API token directly in the store named by the configuration, so that the\n"
     "first admin token can be made before any exists. The secret is printed once, on\n"
     "stdout; only its SHA-256 is stored.\n\n"
     "A person's token (--user) acts as that user: break-glass requests, approvals and\n"
     "certificates are theirs, under their team's policy. An agent's token (--agent) is\n"
     "for `opsbell agent` on that host: only /api/v1/agent/ accepts it, for that host\n"
     "only; its scope is read (--scope may be left out).\n\n" CONFIG_OPT
     "  -n, --name NAME     a label for the token (letters, digits, space, ._:@-)\n"
     "  -s, --scope SCOPE   read, write or admin\n"
     "  -t, --team TEAM     limit the token to one team's objects\n"
     "  -u, --user USER     a person's token: the API acts as USER (a configured user)\n"
     "  -a, --agent HOST    a host agent's token for HOST (a host of some host group)\n"
     "  -e, --expires DUR   expire after DUR (e.g. 12h, 90d)\n"
     "      --json          print id, name, scope, team, user, agent and token as JSON\n"},
    {"token", "list", cmd_token_list, "list API tokens (on the configured store)",
     "usage: opsbell token list [-c FILE] [--json]\n\n"
     "List every API token with its scope, team, user (a person's token), agent host (an\n"
     "agent's token) and state; secrets are never shown.\n\n" CONFIG_OPT
     "      --json          print JSON\n"},
    {"token", "revoke", cmd_token_revoke, "revoke an API token (on the configured store)",
     "usage: opsbell token revoke ID [-c FILE]\n\nRevoke the token with that id.\n\n" CONFIG_OPT},
    {"whoami", NULL, cmd_whoami, "show the token in use",
     "usage: opsbell whoami [--json]\n\nShow the name, scope and team of "
     "$OPSBELL_TOKEN.\n" CLIENT_ENV},
    {"team", "list", cmd_team_list, "list teams",
     "usage: opsbell team list [--json]\n\nList the teams the token may see.\n" CLIENT_ENV},
    {"team", "show", cmd_team_show, "show one team with its services",
     "usage: opsbell team show TEAM [--json]\n\nShow a team, its members and "
     "services.\n" CLIENT_ENV},
    {"service", "list", cmd_service_list, "list services",
     "usage: opsbell service list [--team TEAM] [--json]\n\nList services.\n" CLIENT_ENV},
    {"user", "list", cmd_user_list, "list people",
     "usage: opsbell user list [--json]\n\nList users with their contact method "
     "types.\n" CLIENT_ENV},
    {"audit", "list", cmd_audit_list, "show the audit log (admin)",
     "usage: opsbell audit list [--limit N] [--before ID] [--actor A] [--action X] [--json]\n\n"
     "Show audit events, newest first: who did what, when, from where.\n" CLIENT_ENV},
    {"alert", "send", cmd_alert_send, "send an alert to a service",
     "usage: opsbell alert send --service SERVICE --summary TEXT [--severity SEV]\n"
     "                          [--dedup KEY] [--label NAME=VALUE]... [--resolve] [--json]\n\n"
     "Send one alert through the generic door (POST /api/v1/alerts). Alerts with the same\n"
     "dedup key (or, without one, the same labels) join the same open incident.\n\n"
     "  -s, --service SERVICE  the service it is for\n"
     "  -m, --summary TEXT     what is wrong\n"
     "  -S, --severity SEV     critical, error (default), warning or info\n"
     "  -d, --dedup KEY        dedup key; resolve with the same key\n"
     "  -l, --label N=V        a label (repeatable)\n"
     "  -r, --resolve          resolve the alert with that dedup key or labels\n" CLIENT_ENV},
    {"incident", "list", cmd_incident_list, "list incidents",
     "usage: opsbell incident list [--status S|--all] [--team T] [--service S] [--limit N]"
     " [--json]\n\n"
     "List incidents, newest first; open ones (triggered or acknowledged) by "
     "default.\n" CLIENT_ENV},
    {"incident", "show", cmd_incident_show, "show an incident with its alerts and timeline",
     "usage: opsbell incident show ID [--json]\n\n"
     "Show an incident: its alerts, where it is in its escalation policy, every\n"
     "notification sent or due, and its timeline.\n" CLIENT_ENV},
    {"incident", "ack", cmd_incident_ack, "acknowledge an incident",
     "usage: opsbell incident ack ID [--json]\n" CLIENT_ENV},
    {"incident", "resolve", cmd_incident_resolve, "resolve an incident",
     "usage: opsbell incident resolve ID [--json]\n" CLIENT_ENV},
    {"incident", "escalate", cmd_incident_escalate, "ask for the next escalation step now",
     "usage: opsbell incident escalate ID [--json]\n\n"
     "Take the incident's next escalation step now (restarting a stopped escalation; an\n"
     "acknowledged incident is triggered again). Refused for a resolved incident or a\n"
     "service without an escalation policy.\n" CLIENT_ENV},
    {"incident", "note", cmd_incident_note, "add a note to an incident's timeline",
     "usage: opsbell incident note ID TEXT [--json]\n" CLIENT_ENV},
    {"silence", "add", cmd_silence_add, "silence matching alerts for a while",
     "usage: opsbell silence add MATCHER... (--for DURATION | --until TIME) --comment TEXT\n"
     "                           [--from TIME] [--json]\n\n"
     "Create a silence (maintenance window): alerts whose labels match every MATCHER\n"
     "(name=\"value\", name!=\"value\", name=~\"regex\", name!~\"regex\") are stored and shown,\n"
     "their incidents marked silenced, and nobody is paged. The synthetic labels\n"
     "opsbell_service and opsbell_team match an alert's service and team.\n\n"
     "  -f, --for DURATION   how long, e.g. 2h\n"
     "  -u, --until TIME     or until an RFC 3339 time\n"
     "  -s, --from TIME      start later than now\n"
     "  -m, --comment TEXT   why (required)\n" CLIENT_ENV},
    {"silence", "list", cmd_silence_list, "list silences",
     "usage: opsbell silence list [--all] [--json]\n\nActive silences, or --all of "
     "them.\n" CLIENT_ENV},
    {"silence", "expire", cmd_silence_expire, "end a silence now",
     "usage: opsbell silence expire ID\n" CLIENT_ENV},
    {"oncall", NULL, cmd_oncall, "who is on call now (or at a given time)",
     "usage: opsbell oncall [TEAM|SCHEDULE] [--at TIME] [--json]\n\n"
     "For every schedule (of TEAM, or just SCHEDULE; all the token may see without one):\n"
     "who is on call and from when until when, and who is next. Overrides are applied.\n"
     "Times are printed in UTC.\n\n"
     "  -a, --at TIME       ask about another instant than now\n"
     "      --json          print JSON\n\n" TIME_FORMS CLIENT_ENV},
    {"schedule", "list", cmd_schedule_list, "list on-call schedules",
     "usage: opsbell schedule list [--team TEAM] [--json]\n\n"
     "List the schedules the token may see, with their team, time zone and layers.\n" CLIENT_ENV},
    {"schedule", "show", cmd_schedule_show, "show a schedule's layers and timeline",
     "usage: opsbell schedule show NAME [--from TIME] [--until TIME] [--json]\n\n"
     "Show a schedule's layers (rotation rule, handoff, users, restrictions) and who is on\n"
     "call when, overrides applied, from --from (default now) until --until (default a\n"
     "week later).\n\n" TIME_FORMS CLIENT_ENV},
    {"override", "add", cmd_override_add, "put someone on call for a while",
     "usage: opsbell override add SCHEDULE --user USER [--from TIME] --until TIME\n"
     "                            [--reason TEXT] [--json]\n\n"
     "USER covers SCHEDULE from --from (default now) until --until, whoever the rotation\n"
     "says. Overrides of one schedule may not overlap; one ending in the past is refused.\n\n"
     "  -u, --user USER     who covers\n"
     "  -f, --from TIME     start (default now)\n"
     "  -t, --until TIME    end\n"
     "  -r, --reason TEXT   why (shown in lists and the audit log)\n\n" TIME_FORMS CLIENT_ENV},
    {"override", "list", cmd_override_list, "list a schedule's current and future overrides",
     "usage: opsbell override list SCHEDULE [--json]\n" CLIENT_ENV},
    {"override", "delete", cmd_override_delete, "delete an override",
     "usage: opsbell override delete ID [--json]\n\n"
     "Delete an override: the rotation applies again. The deletion is audited.\n" CLIENT_ENV},
    {"policy", "list", cmd_policy_list, "list escalation policies",
     "usage: opsbell policy list [--team TEAM] [--json]\n" CLIENT_ENV},
    {"policy", "show", cmd_policy_show, "show an escalation policy and who it pages now",
     "usage: opsbell policy show NAME [--json]\n\n"
     "Show a policy's steps: their delays, users and schedules, with who is on call now\n"
     "for each schedule.\n" CLIENT_ENV},
    {"ical", "create", cmd_ical_create, "make a calendar feed of shifts",
     "usage: opsbell ical create (--user USER | --schedule NAME) [--json]\n\n"
     "Create an iCalendar feed (RFC 5545) of a user's shifts on every schedule, or of one\n"
     "schedule's shifts, and print its URL once: the URL is the secret (only its SHA-256\n"
     "is stored). Subscribe to it from a calendar application; revoke it when it leaks.\n"
     "A user's feed needs a token for every team.\n" CLIENT_ENV},
    {"ical", "list", cmd_ical_list, "list calendar feeds",
     "usage: opsbell ical list [--json]\n\nList iCal feeds (never their URLs).\n" CLIENT_ENV},
    {"ical", "revoke", cmd_ical_revoke, "revoke a calendar feed",
     "usage: opsbell ical revoke ID [--json]\n\nRevoke a feed: its URL answers 404 from "
     "now on.\n" CLIENT_ENV},
    {"tel", NULL, cmd_tel, "ring someone's phone now",
     "usage: opsbell tel NICKNAME [MESSAGE...] [--no-wait] [--json]\n\n"
     "Call NICKNAME (or a user name) now, regardless of schedules, on their first voice or\n"
     "SIP contact method (then the next ones when busy or unanswered), saying \"Call from\n"
     "<token name> via opsbell: MESSAGE\". Waits for the outcome and exits 0 when someone\n"
     "answered, 1 otherwise; --no-wait returns once the call is queued. Rate-limited: 5\n"
     "calls per caller and 3 per callee in 10 minutes. Audited as tel.request.\n" CLIENT_ENV},
    {"contact", "list", cmd_contact_list, "a user's contact methods and whether they are verified",
     "usage: opsbell contact list USER [--json]\n\n"
     "List USER's contact methods, the provider that reaches each, and whether it is\n"
     "verified. Phone numbers and SIP URIs reached through SIP or Twilio are paged only\n"
     "once verified.\n" CLIENT_ENV},
    {"contact", "verify", cmd_contact_verify, "send a verification code to a phone or SIP URI",
     "usage: opsbell contact verify USER TYPE ADDRESS [--json]\n\n"
     "Send a 6-digit code to ADDRESS, one of USER's contact methods of TYPE (voice, sms or\n"
     "sip): a call speaks it, an SMS carries it. It is valid for 10 minutes; type it back\n"
     "with `opsbell contact confirm`. A new code can be sent once a minute.\n" CLIENT_ENV},
    {"contact", "confirm", cmd_contact_confirm, "type back a verification code",
     "usage: opsbell contact confirm USER ADDRESS CODE [--json]\n\n"
     "Verify ADDRESS with the code it received. Five wrong codes void it: send a new one.\n"
     "A number verified once is verified for calls and SMS alike.\n" CLIENT_ENV},
    {"contact", "trust", cmd_contact_trust, "vouch for a contact method without a code (admin)",
     "usage: opsbell contact trust USER ADDRESS [--json]\n\n"
     "Mark ADDRESS verified without a code, e.g. a desk phone an admin checked by hand.\n"
     "Needs an admin token; audited as contact.trusted.\n" CLIENT_ENV},
    {"keys", "sync", cmd_keys_sync, "fetch the SSH keys repository and rebuild the key cache",
     "usage: opsbell keys sync [-c FILE] [-q]\n\n"
     "Fetch the configured keys repository (keys: in opsbell.yaml), validate every\n"
     "keys/<user>/*.pub and keys/<user>.pub file at the tip of the branch, and replace the\n"
     "local cache that `keys authorized-keys` answers from. Prints every key added (+) or\n"
     "removed (-); bad files and keys of unknown users are reported on stderr and skipped.\n"
     "When the repository cannot be fetched, exits 1 with one line and keeps the old "
     "cache.\n\n" CONFIG_OPT "  -q, --quiet         print only problems\n"},
    {"keys", "list", cmd_keys_list, "list the SSH keys in the local cache",
     "usage: opsbell keys list [USER] [--cache FILE | -c FILE] [--json]\n\n"
     "List the keys of the last sync (every user's, or USER's): type, size, SHA256\n"
     "fingerprint (as ssh-keygen -l prints it) and comment.\n\n" CONFIG_OPT
     "      --cache FILE    the cache file (default: keys.cache_dir/" KEYS_CACHE_NAME ")\n"
     "      --json          print JSON\n"},
    {"keys", "authorized-keys", cmd_keys_authorized_keys,
     "print a user's SSH keys for sshd (AuthorizedKeysCommand)", KEYS_AUTHORIZED_KEYS_USAGE},
    {"agent", NULL, cmd_agent, "run the host agent: apply this host's grants, keys and CA",
     "usage: opsbell agent [-c FILE] [--once] [--check]\n\n"
     "Poll the opsbell server for this host's state (GET /api/v1/agent/state with the agent\n"
     "token and the last ETag) and apply it: opsbell's nftables table (each grant and\n"
     "allowlist entry until its expiry), the SSH keys cache that `keys authorized-keys`\n"
     "answers sshd from, the TrustedUserCAKeys and RevokedKeys files. The last state is\n"
     "kept in state_dir and applied at start and whenever the server does not answer, so\n"
     "logins keep working from it until its entries expire. SIGINT and SIGTERM stop the\n"
     "agent without removing any access (the kernel's timeouts close it). See docs/AGENT.md.\n\n"
     "  -c, --config FILE   agent.yaml (default /etc/opsbell/agent.yaml)\n"
     "  -o, --once          poll and apply once: exit 0 when the host holds the server's\n"
     "                      state, or (with a warning) the cached one while the server is\n"
     "                      unreachable; exit 1 with one line otherwise (token refused,\n"
     "                      state refused, nothing cached, apply failed)\n"
     "  -k, --check         validate agent.yaml (FILE:LINE:COL: message) and exit\n"},
    {"config", "reload", cmd_config_reload, "make the server reload its configuration (admin)",
     "usage: opsbell config reload [--json]\n\n"
     "Ask the server to load its configuration again (like SIGHUP). An invalid configuration\n"
     "is refused with every error printed as FILE:LINE:COL: message.\n" CLIENT_ENV},
    {"breakglass", "request", cmd_breakglass_request, "ask for emergency SSH access to a host",
     "usage: opsbell breakglass request (--host HOST | --group GROUP) --for DURATION\n"
     "                                 --reason TEXT [--ip IP] [--user USER] [--json]\n\n"
     "Ask for break-glass SSH access to HOST (or every host of GROUP) for DURATION. The\n"
     "team owning the host decides by its `breakglass:` policy: when you may approve\n"
     "yourself (self_approve: on call, members or named users) the grant is active at once;\n"
     "otherwise it waits (pending_ttl) for one of the team's approvers. DURATION is at most\n"
     "the team's max_duration. Access is opened from --ip (an address or CIDR no wider than\n"
     "the policy; 0.0.0.0/0 never), else from your freshest allowlist address, else from\n"
     "the address the request came from. Prints the grant's id and state; access closes by\n"
     "itself at its expiry. Audited as breakglass.request (and breakglass.approve).\n\n"
     "  -H, --host HOST     one host (as its agent names itself)\n"
     "  -g, --group GROUP   or every host of one host group\n"
     "  -f, --for DURATION  how long, e.g. 30m, 1h\n"
     "  -r, --reason TEXT   why (shown to approvers and in the audit log)\n"
     "  -i, --ip IP         the address or CIDR to open SSH from\n"
     "  -u, --user USER     whom the grant is for (admin tokens only; a person's token\n"
     "                      acts as its own user)\n"
     "      --json          print the grant as JSON\n" CLIENT_ENV},
    {"breakglass", "approve", cmd_breakglass_approve, "approve a pending break-glass request",
     "usage: opsbell breakglass approve ID [--json]\n\n"
     "Approve grant ID: it is active from now for the duration asked. Only an approver of\n"
     "the grant's team (never its requester) or an admin token. Audited as\n"
     "breakglass.approve.\n" CLIENT_ENV},
    {"breakglass", "deny", cmd_breakglass_deny, "deny a pending break-glass request",
     "usage: opsbell breakglass deny ID [--reason TEXT] [--json]\n\n"
     "Deny the pending grant ID. Only an approver of its team or an admin token. Audited as\n"
     "breakglass.deny.\n\n"
     "  -r, --reason TEXT   why (kept with the grant and in the audit log)\n" CLIENT_ENV},
    {"breakglass", "revoke", cmd_breakglass_revoke, "end a break-glass grant now",
     "usage: opsbell breakglass revoke ID [--reason TEXT] [--json]\n\n"
     "End the pending or active grant ID now: agents and the AWS security group close its\n"
     "access at their next sync, and its certificates go into the KRL. Its own user, an\n"
     "approver of its team or an admin token may. Audited as breakglass.revoke.\n\n"
     "  -r, --reason TEXT   why (kept with the grant and in the audit log)\n" CLIENT_ENV},
    {"breakglass", "list", cmd_breakglass_list, "list break-glass grants",
     "usage: opsbell breakglass list [--state STATE] [--user USER] [--json]\n\n"
     "List grants, newest first: ID USER TARGET CIDR STATE EXPIRES APPROVED-BY REASON\n"
     "(TARGET is a host, or group:NAME). By default the live ones (pending or active).\n\n"
     "  -s, --state STATE   live (default), pending, active, denied, revoked, expired or all\n"
     "  -u, --user USER     only USER's grants\n"
     "      --json          print JSON\n" CLIENT_ENV},
    {"breakglass", "show", cmd_breakglass_show, "show one break-glass grant",
     "usage: opsbell breakglass show ID [--json]\n\n"
     "Show grant ID: state, user, team, target and hosts, CIDR, reason, who requested,\n"
     "approved and ended it, and when.\n" CLIENT_ENV},
    {"allowlist", "list", cmd_allowlist_list, "list the addresses people were seen at",
     "usage: opsbell allowlist list [--user USER] [--json]\n\n"
     "List the allowlist entries in force: USER CIDR SOURCE (slack, link or manual)\n"
     "LAST-SEEN EXPIRES DETAIL. An entry opens SSH on the host groups with `allowlist: true`\n"
     "of its user's teams until it expires (allowlist.freshness after it was last seen).\n\n"
     "  -u, --user USER     only USER's entries\n"
     "      --json          print JSON\n" CLIENT_ENV},
    {"cert", "ca-pubkey", cmd_cert_ca_pubkey, "print the SSH CA public key (TrustedUserCAKeys)",
     "usage: opsbell cert ca-pubkey [-c FILE]\n\n"
     "Print the public key line of the configuration's ssh_ca key (\"ssh-ed25519 AAAA...\n"
     "opsbell-ca\"), for sshd's TrustedUserCAKeys file.\n\n" CONFIG_OPT},
    {"cert", "sign", cmd_cert_sign, "issue a short-lived SSH user certificate",
     "usage: opsbell cert sign --pubkey FILE --principal LOGIN [--principal LOGIN]...\n"
     "                         --valid-for DURATION --source-address CIDR[,CIDR]\n"
     "                         [--key-id ID] [--serial N] [-o FILE] [-c FILE] [--json]\n"
     "       opsbell cert sign --grant ID --pubkey FILE [-o FILE] [--json]\n\n"
     "Sign the OpenSSH public key in FILE with the ssh_ca key and write the certificate\n"
     "next to it as FILE-cert.pub (id_ed25519.pub -> id_ed25519-cert.pub), as ssh-keygen\n"
     "does. The certificate is valid from one minute ago for DURATION (at most ssh_ca\n"
     "max_validity), only for the given logins and only from the given addresses.\n"
     "Refused: no principal, a duration beyond max_validity, a source address that is not\n"
     "a CIDR or allows everyone (0.0.0.0/0, ::/0), a malformed or unsupported key.\n\n"
     "  -k, --pubkey FILE        the user's public key (ssh-ed25519, ecdsa-sha2-nistp*,\n"
     "                           ssh-rsa of 3072 bits or more)\n"
     "  -p, --principal LOGIN    a login name the certificate is valid for (repeatable)\n"
     "  -V, --valid-for DUR      e.g. 30m, 2h\n"
     "  -s, --source-address L   comma-separated addresses or CIDRs it may be used from\n"
     "  -I, --key-id ID          the id sshd logs (default \"opsbell LOGIN\")\n"
     "  -n, --serial N           serial number (default 0)\n"
     "  -o, --output FILE        write the certificate to FILE instead\n"
     "      --json               print what was written as JSON\n" CONFIG_OPT
     "\nWith --grant ID the server signs instead, for the active break-glass grant ID\n"
     "(yours, or any with an admin token): principals = the user's logins, valid from a\n"
     "minute ago until the grant's expiry, source-address = the grant's CIDR. Refused for a\n"
     "pending, denied, revoked or expired grant and for another user's grant. Talks to the\n"
     "server at $OPSBELL_URL with $OPSBELL_TOKEN.\n"},
    {"cert", "krl", cmd_cert_krl, "write an SSH key revocation list (RevokedKeys)",
     "usage: opsbell cert krl --output FILE [--serial N]... [--key-id ID]...\n"
     "                        [--krl-version N] [-c FILE]\n\n"
     "Write an OpenSSH key revocation list (KRL) revoking the ssh_ca certificates with\n"
     "these serials or key ids, for sshd's RevokedKeys (ssh-keygen -Q -f FILE checks a\n"
     "certificate against it). The file lists everything still revoked: write it whole\n"
     "each time. Serial 0 cannot be revoked by serial; revoke its key id.\n\n"
     "  -o, --output FILE        where to write the KRL (replaced atomically)\n"
     "  -n, --serial N           revoke the certificate with serial N (repeatable)\n"
     "  -I, --key-id ID          revoke every certificate with key id ID (repeatable)\n"
     "  -v, --krl-version N      the list's version (default: the current Unix time)\n" CONFIG_OPT},
    {"enforce", "aws", cmd_enforce_aws, "open, list and sweep SSH rules of the AWS security group",
     "usage: opsbell enforce aws authorize CIDR --for DURATION [--id ID] [-c FILE]\n"
     "       opsbell enforce aws revoke RULE_ID [-c FILE]\n"
     "       opsbell enforce aws list [--json] [-c FILE]\n"
     "       opsbell enforce aws sweep [--every DURATION] [-c FILE]\n\n"
     "Work on the security group of the configuration's enforcers.aws (docs/AWS.md) with\n"
     "its credentials, directly against EC2:\n"
     "  authorize  open the SSH port to CIDR (an IP address is /32 or /128) until now plus\n"
     "             DURATION; the rule's description is \"opsbell ID until EXPIRY\" (ID defaults\n"
     "             to cli:CIDR). An existing rule for CIDR counts as success.\n"
     "  revoke     close one rule by its id (sgr-...)\n"
     "  list       the group's inbound rules, with the expiry of opsbell's\n"
     "  sweep      revoke opsbell's rules whose expiry has passed (others are never touched);\n"
     "             with --every, now and then every DURATION until SIGINT or SIGTERM\n\n"
     "Prints one line and exits 1 when EC2 refuses (AuthFailure, the rules quota,\n"
     "RequestLimitExceeded, ...).\n\n" CONFIG_OPT
     "  -f, --for DURATION  how long authorize opens (1s .. 7d), e.g. 30m\n"
     "  -i, --id ID         the grant or allowlist id written into the description\n"
     "  -e, --every DUR     sweep in the foreground every DUR (1s .. 1d), e.g. 5m\n"
     "      --json          list as JSON\n"},
    {"enforce", "nft", cmd_enforce_nft, "apply, list or flush the nftables allowlist on this host",
     "usage: opsbell enforce nft apply FILE [--time] [-c FILE]\n"
     "       opsbell enforce nft list [--json] [-c FILE]\n"
     "       opsbell enforce nft flush [-c FILE]\n\n"
     "apply: make opsbell's nftables table (default `inet opsbell`) allow SSH from exactly\n"
     "the entries in FILE (a JSON list of {\"id\", \"cidr\", \"expires_at\"}, expires_at in\n"
     "epoch milliseconds; - reads stdin), each until its expiry, in one kernel transaction.\n"
     "Expired entries are left out; the kernel removes the others on time by itself.\n"
     "list: what is enforced now. flush: delete opsbell's table. Needs CAP_NET_ADMIN.\n"
     "Settings come from the configuration's enforcers.nftables (docs/FIREWALL.md).\n\n"
     "  -c, --config FILE   main configuration file (default: built-in defaults)\n"
     "  -t, --time          print how long the apply took\n"
     "  -j, --json          list as JSON\n"},
};
const size_t cli_command_count = sizeof(cli_commands) / sizeof(cli_commands[0]);
