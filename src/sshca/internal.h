/* internal.h - what the files of src/sshca share and nobody else sees. */
#ifndef OPSBELL_SSHCA_INTERNAL_H
#define OPSBELL_SSHCA_INTERNAL_H

#include <openssl/evp.h>

struct sshca_ca {
    EVP_PKEY *pkey;        /* owned: the Ed25519 key pair */
    unsigned char pub[32]; /* its public key */
};

#endif
