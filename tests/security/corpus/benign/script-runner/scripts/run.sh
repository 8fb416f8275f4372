#!/bin/sh
set -eu
echo "checking"
