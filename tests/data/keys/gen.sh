#!/bin/sh
# gen.sh — regenerates every key in this folder with the openssl CLI
# (OpenSSL 3.0). Run from this folder: sh gen.sh. The keys are test data
# only: never use them for anything real. Passphrase everywhere: foobar.
set -eu
O=openssl
# Base RSA 2048 key (e = 65537) and its other encodings.
$O genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pkcs8.pem
$O rsa -in rsa2048.pkcs8.pem -traditional -out rsa2048.pkcs1.pem
$O pkey -in rsa2048.pkcs8.pem -pubout -out rsa2048.spki.pem
$O rsa -in rsa2048.pkcs8.pem -RSAPublicKey_out -out rsa2048.rsapub.pem
$O pkey -in rsa2048.pkcs8.pem -outform DER -out rsa2048.pkcs8.der
$O rsa -in rsa2048.pkcs8.pem -traditional -outform DER -out rsa2048.pkcs1.der
$O pkey -in rsa2048.pkcs8.pem -pubout -outform DER -out rsa2048.spki.der
$O rsa -in rsa2048.pkcs8.pem -RSAPublicKey_out -outform DER -out rsa2048.rsapub.der
# Encrypted: PKCS#8 PBES2 (AES-256-CBC + PBKDF2), PEM and DER.
$O pkcs8 -topk8 -v2 aes-256-cbc -in rsa2048.pkcs8.pem -passout pass:foobar -out rsa2048.pbes2.pem
$O pkcs8 -topk8 -v2 aes-256-cbc -in rsa2048.pkcs8.pem -passout pass:foobar -outform DER -out rsa2048.pbes2.der
# Encrypted: legacy PKCS#8 PBES1 pbeWithMD5AndDES-CBC (like T-Mobile's test keys).
$O pkcs8 -topk8 -v1 PBE-MD5-DES -provider legacy -provider default -in rsa2048.pkcs8.pem \
    -passout pass:foobar -out rsa2048.pbes1-md5-des.pem
# Encrypted: traditional PKCS#1 (Proc-Type: 4,ENCRYPTED) with AES-256-CBC and 3DES.
$O rsa -in rsa2048.pkcs8.pem -traditional -aes256 -passout pass:foobar -out rsa2048.pkcs1-aes256.pem
$O rsa -in rsa2048.pkcs8.pem -traditional -des3 -passout pass:foobar -out rsa2048.pkcs1-des3.pem
# Layout variants: CRLF, one line (no line breaks at all), surrounding whitespace.
sed 's/$/\r/' rsa2048.pkcs8.pem > rsa2048.pkcs8.crlf.pem
tr -d '\n' < rsa2048.pkcs8.pem > rsa2048.pkcs8.oneline.pem
tr -d '\n' < rsa2048.pkcs1-aes256.pem > rsa2048.pkcs1-aes256.oneline.pem
tr -d '\n' < rsa2048.pbes2.pem > rsa2048.pbes2.oneline.pem
{ printf '\n\n   \t'; cat rsa2048.pkcs8.pem; printf '  \n\n\t\n'; } > rsa2048.pkcs8.ws.pem
sed 's/$/\r/' rsa2048.spki.pem > rsa2048.spki.crlf.pem
tr -d '\n' < rsa2048.spki.pem > rsa2048.spki.oneline.pem
{ printf '  \n'; cat rsa2048.spki.pem; printf '\n \n'; } > rsa2048.spki.ws.pem
# The PEM body alone (a DevEdge paste mistake: BEGIN/END lines left out).
grep -v -- '-----' rsa2048.spki.pem > rsa2048.spki.body-only.txt
# A self-signed certificate for the same key (a certificate is not a key).
$O req -x509 -new -key rsa2048.pkcs8.pem -subj /CN=taap-test -days 3650 -out rsa2048.cert.pem
# Key-policy refusals: 1024 bits, e = 3, RSA-PSS, EC P-256, Ed25519.
$O genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pkcs8.pem
$O pkey -in rsa1024.pkcs8.pem -pubout -out rsa1024.spki.pem
$O genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3 -out rsa2048-e3.pkcs8.pem
$O pkey -in rsa2048-e3.pkcs8.pem -pubout -out rsa2048-e3.spki.pem
$O genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out rsapss2048.pkcs8.pem
$O pkey -in rsapss2048.pkcs8.pem -pubout -out rsapss2048.spki.pem
$O genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec-p256.pkcs8.pem
$O ec -in ec-p256.pkcs8.pem -out ec-p256.sec1.pem
$O pkey -in ec-p256.pkcs8.pem -pubout -out ec-p256.spki.pem
$O genpkey -algorithm ED25519 -out ed25519.pkcs8.pem
$O pkey -in ed25519.pkcs8.pem -pubout -out ed25519.spki.pem
# A 3072-bit key for size checks.
$O genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa3072.pkcs8.pem
$O pkey -in rsa3072.pkcs8.pem -pubout -out rsa3072.spki.pem
chmod 0644 ./*.pem ./*.der ./*.txt
