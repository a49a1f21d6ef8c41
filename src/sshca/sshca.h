/*
 * sshca.h - a small SSH certificate authority: an Ed25519 CA key, OpenSSH
 * user certificates (PROTOCOL.certkeys), the public key line for sshd's
 * TrustedUserCAKeys.
 *
 * Formats (docs/SSH-CERTIFICATES.md):
 *   - the CA key: an unencrypted OpenSSH private key ("-----BEGIN OPENSSH
 *     PRIVATE KEY-----", as `ssh-keygen -t ed25519 -N ''` writes it) or a PEM
 *     PKCS#8 Ed25519 key ("-----BEGIN PRIVATE KEY-----");
 *   - a user key: one OpenSSH public key line "TYPE BASE64 [COMMENT]" of type
 *     ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa (>= 3072 bits);
 *   - a certificate: "TYPE-cert-v01@openssh.com BASE64 [COMMENT]".
 *
 * Every function is pure (no global state, no I/O) except that signing
 * draws the nonce from OpenSSL's RAND_bytes when the request gives none.
 * Everything may be called from any thread; a struct sshca_ca is read-only
 * once loaded and may be shared.
 *
 * Errors follow util/error.h: 0 or a negative OB_E* code, with a one-line
 * message in err (which may be NULL).  Messages never contain key material.
 */
#ifndef OPSBELL_SSHCA_SSHCA_H
#define OPSBELL_SSHCA_SSHCA_H

#include <stddef.h>
#include <stdint.h>

struct ob_error;

#define SSHCA_LINE_MAX       16384 /* cap on a public key line / certificate line */
#define SSHCA_PRIVKEY_MAX    16384 /* cap on a private key file */
#define SSHCA_MAX_PRINCIPALS 64
#define SSHCA_PRINCIPAL_MAX  256 /* bytes of one principal */
#define SSHCA_KEY_ID_MAX     256
#define SSHCA_SOURCE_MAX     1024 /* the normalised source-address list */
#define SSHCA_NONCE_LEN      32
#define SSHCA_RSA_MIN_BITS   3072
#define SSHCA_CERT_TYPE_USER 1
#define SSHCA_BACKDATE_S     60 /* valid after = now - this, for clock skew */

/* ---- user public keys ------------------------------------------------------ */

struct sshca_pubkey {
    char type[32];       /* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
    unsigned char *blob; /* owned: the key's wire blob (string type, then its fields) */
    size_t blob_len;
    char *comment; /* owned; NULL when the line has none */
};

/*
 * Parse one public key line (len bytes, need not be NUL-terminated; one
 * trailing newline is allowed).  The line must start with the key type: a
 * line with options (`command="..." ssh-ed25519 ...`), a certificate, a
 * security-key type, a second key or an RSA key under 3072 bits is refused
 * (OB_EINVAL); longer than SSHCA_LINE_MAX is OB_ETOOLARGE.  The blob is
 * checked field by field (type inside = type outside, sizes, an ECDSA point
 * on its curve, nothing left over).  On success out owns its memory
 * (sshca_pubkey_release); on failure out is zeroed.
 */
int sshca_pubkey_parse(const char *line, size_t len, struct sshca_pubkey *out,
                       struct ob_error *err);
/* Free what k owns and zero it. Accepts NULL. */
void sshca_pubkey_release(struct sshca_pubkey *k);

/* ---- the CA key -------------------------------------------------------------- */

struct sshca_ca; /* opaque: the Ed25519 key pair */

/*
 * Load the CA private key from data (len bytes: the text of the key file).
 * Accepted: an unencrypted OpenSSH private key holding exactly one
 * ssh-ed25519 key (cipher and kdf "none", check integers equal, public half
 * matching the private half, padding 1, 2, 3 ...), or a PEM PKCS#8 Ed25519
 * key.  An encrypted key, another key type or anything malformed is
 * OB_EINVAL; more than SSHCA_PRIVKEY_MAX bytes is OB_ETOOLARGE.
 * On success *out is the caller's (sshca_ca_free); on failure it is NULL.
 */
int sshca_ca_load(const char *data, size_t len, struct sshca_ca **out, struct ob_error *err);
/* Wipe and free. Accepts NULL. */
void sshca_ca_free(struct sshca_ca *ca);

/*
 * The CA's public key line "ssh-ed25519 BASE64 COMMENT" (no newline; comment
 * NULL or empty: none), for sshd's TrustedUserCAKeys.  *out is malloc'd, the
 * caller frees it.
 */
int sshca_ca_pubkey_line(const struct sshca_ca *ca, const char *comment, char **out,
                         struct ob_error *err);
/* The CA's public key blob (string "ssh-ed25519", string pk): 51 bytes into
 * out (cap >= SSHCA_CA_BLOB_LEN).  Returns the length. */
#define SSHCA_CA_BLOB_LEN 51
size_t sshca_ca_pubkey_blob(const struct sshca_ca *ca, unsigned char *out);

/* ---- source addresses -------------------------------------------------------- */

/*
 * Normalise a comma-separated list of addresses or CIDRs ("203.0.113.7",
 * "2001:db8::/32") into out as "203.0.113.7/32,2001:db8::/32".  Refused
 * (OB_EINVAL): an empty list or entry, a bad address or prefix length, host
 * bits set beyond the prefix, an entry that allows every address (prefix 0,
 * as 0.0.0.0/0 and ::/0), more than 16 entries, duplicates.  OB_ETOOLARGE
 * when the result does not fit cap bytes.
 */
int sshca_source_normalize(const char *list, char *out, size_t cap, struct ob_error *err);

/* ---- certificates ------------------------------------------------------------ */

struct sshca_cert_request {
    const struct sshca_pubkey *key; /* the key being certified (borrowed) */
    uint64_t serial;
    const char *key_id;            /* free text, 1..SSHCA_KEY_ID_MAX bytes, no control chars */
    const char *const *principals; /* login names; at least one, never empty strings */
    size_t principal_count;        /* 1 .. SSHCA_MAX_PRINCIPALS */
    uint64_t valid_after;          /* seconds since the epoch */
    uint64_t valid_before;         /* > valid_after */
    const char *source_address;    /* normalised list (sshca_source_normalize); NULL = none */
    const unsigned char *nonce;    /* SSHCA_NONCE_LEN bytes; NULL = random (tests pass one) */
};

/*
 * Build and sign a user certificate: type TYPE-cert-v01@openssh.com, the
 * nonce, the key's fields, serial, type user (1), key id, principals,
 * validity, critical options (source-address when given), the extensions
 * permit-agent-forwarding, permit-port-forwarding, permit-pty,
 * permit-user-rc, an empty reserved field, the CA's key and its Ed25519
 * signature over everything before it.  A request without principals, with
 * an empty, overlong or comma-holding principal, or with an empty validity
 * is refused (OB_EINVAL).  On success *blob (malloc'd, caller frees) holds
 * the certificate's wire encoding.
 */
int sshca_cert_sign(const struct sshca_ca *ca, const struct sshca_cert_request *req,
                    unsigned char **blob, size_t *blob_len, struct ob_error *err);

/*
 * The certificate line "TYPE-cert-v01@openssh.com BASE64[ COMMENT]" for a
 * blob from sshca_cert_sign (no newline).  *out is malloc'd; caller frees.
 */
int sshca_cert_line(const unsigned char *blob, size_t blob_len, const char *comment, char **out,
                    struct ob_error *err);

/* ---- key revocation lists (krl.c; OpenSSH PROTOCOL.krl) --------------------- */

#define SSHCA_KRL_MAX_ENTRIES 100000

/*
 * Build an OpenSSH KRL (for sshd's RevokedKeys, `ssh-keygen -Q`) revoking
 * the certificates of this CA whose serial is in serials or whose key id is
 * in key_ids: header (magic "SSHKRL\n\0", format 1, krl_version,
 * generated_at, flags 0, reserved, comment), then one certificates section
 * for the CA's key with a serial-list subsection (sorted, duplicates
 * dropped) and a key-id subsection (in the order given), each only when it
 * has entries.  Serial 0 cannot be revoked by serial (OpenSSH refuses it):
 * OB_EINVAL, as are an empty key id and more than SSHCA_KRL_MAX_ENTRIES
 * entries.  Nothing to revoke gives a valid KRL that revokes nothing.
 * *out (malloc'd, caller frees) holds the binary KRL.
 */
int sshca_krl_build(const struct sshca_ca *ca, const uint64_t *serials, size_t serial_count,
                    const char *const *key_ids, size_t key_id_count, uint64_t krl_version,
                    uint64_t generated_at, const char *comment, unsigned char **out,
                    size_t *out_len, struct ob_error *err);

/* ---- the SSH wire format (wire.c), shared by the parsers and the tests ------ */

/* A growing output buffer; on allocation failure `failed` is set and later
 * writes do nothing, so a caller checks once at the end. */
struct sshca_buf {
    unsigned char *data; /* owned */
    size_t len, cap;
    int failed;
};

void sshca_buf_u32(struct sshca_buf *b, uint32_t v);
void sshca_buf_u64(struct sshca_buf *b, uint64_t v);
void sshca_buf_bytes(struct sshca_buf *b, const void *p, size_t n);  /* raw */
void sshca_buf_string(struct sshca_buf *b, const void *p, size_t n); /* uint32 length + bytes */
void sshca_buf_cstring(struct sshca_buf *b, const char *s);
/* Wipe and free; the struct is zeroed. */
void sshca_buf_release(struct sshca_buf *b);

/* A read cursor over borrowed bytes. Each get returns 0 or OB_EINVAL (short). */
struct sshca_reader {
    const unsigned char *p;
    size_t left;
};

int sshca_get_u32(struct sshca_reader *r, uint32_t *v);
int sshca_get_u64(struct sshca_reader *r, uint64_t *v);
/* A string: *p borrows from the reader's bytes. */
int sshca_get_string(struct sshca_reader *r, const unsigned char **p, size_t *n);

/* Base64 without line breaks. sshca_b64_encode: *out malloc'd, NUL-terminated.
 * sshca_b64_decode: strict (padding required, no whitespace); *out malloc'd. */
int sshca_b64_encode(const unsigned char *in, size_t n, char **out);
int sshca_b64_decode(const char *in, size_t n, unsigned char **out, size_t *out_len);

#endif
