#!/usr/bin/env bash
# Makes a cluster CA and one certificate per name, for mutual TLS between conveyor
# nodes and coordinators (docs/operator-guide.md, "Certificates"):
#   scripts/make-cluster-certs.sh DIR NAME...
# writes DIR/ca.pem and DIR/ca.key (the CA; keep ca.key off the nodes), and for each
# NAME: DIR/NAME.pem (signed by the CA, CN=NAME, valid 825 days) and DIR/NAME.key.
# An existing CA in DIR is reused, so more names can be added later; an existing
# NAME.pem is left alone. Keys are EC P-256, readable by their owner only.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 DIR NAME..." >&2
  exit 2
fi
dir=$1
shift
for name in "$@"; do
  if ! [[ $name =~ ^[A-Za-z0-9._-]+$ ]]; then
    echo "error: name '$name': use letters, digits, '.', '_' and '-'" >&2
    exit 2
  fi
done
command -v openssl >/dev/null || { echo "error: the openssl command is not installed" >&2; exit 2; }
mkdir -p "$dir"
umask 077

if [ ! -f "$dir/ca.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=conveyor cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem" 2>/dev/null
  echo "made $dir/ca.pem"
fi

for name in "$@"; do
  if [ -f "$dir/$name.pem" ]; then
    echo "kept $dir/$name.pem"
    continue
  fi
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$name" -out "$dir/$name.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s\n' \
    "$name" > "$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  echo "made $dir/$name.pem"
done
chmod 644 "$dir"/*.pem
