#!/usr/bin/env bash
# The web console's HTTP contract, with curl: compiled-in assets under a
# strict Content-Security-Policy and no inline script or style; sign-in with
# the admin token gives an HttpOnly SameSite=Strict cookie and a CSRF token;
# the cookie opens the management API for reads, a change needs the CSRF
# token too; sign-out ends the session. (test_console_browser.sh drives
# the page itself in Chromium.)
set -u
. "$(dirname "$0")/client_lib.sh"
cd "$tmp" || exit 1
start_emu
c() { curl -sS --noproxy '*' "$@"; }

# Page and assets.
c -D h.txt -o page.html "$BASE/console"
check_grep "page 200" "^HTTP/1.1 200" h.txt
check_grep "CSP" "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self';" h.txt
check_grep "nosniff" "^X-Content-Type-Options: nosniff" h.txt
check_grep "no framing" "^X-Frame-Options: DENY" h.txt
check_grep "page is HTML" "^Content-Type: text/html" h.txt
check_grep "script from a file" '<script src="/console/app.js" defer></script>' page.html
if grep -Eqi '<script>|<script [^>]*>[^<]|<style|style="| on[a-z]+="|https?://' page.html; then
  bad "inline script, style, event handler or external URL in the page"; else ok; fi
c -D h.txt -o app.js "$BASE/console/app.js"
check_grep "app.js served as JavaScript" "^Content-Type: text/javascript" h.txt
check_eq "app.js is the source file" "$(cmp -s app.js "$TAAP_SRC/src/serve/console/app.js"; echo $?)" 0
check_eq "unknown asset 404" "$(c -o /dev/null -w '%{http_code}' "$BASE/console/nope.js")" 404
check_eq "no path escape" "$(c -o /dev/null -w '%{http_code}' --path-as-is "$BASE/console/../healthz")" 404

# Sign-in.
check_eq "wrong token 401" "$(c -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"token":"nope"}' "$BASE/console/session")" 401
check_eq "form post refused (415)" "$(c -o /dev/null -w '%{http_code}' \
  -d "token=$ADMIN" "$BASE/console/session")" 415
c -D h.txt -o in.json -H 'Content-Type: application/json' -d "{\"token\":\"$ADMIN\"}" "$BASE/console/session"
check_grep "cookie HttpOnly SameSite=Strict" "^Set-Cookie: taap_console=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Max-Age=" h.txt
cookie=$(sed -n 's/^Set-Cookie: \(taap_console=[0-9a-f]*\);.*/\1/p' h.txt)
csrf=$(jq -r .csrf in.json)
check_eq "csrf is 64 hex" "${#csrf}" 64
check_nogrep "admin token not in the answer" "$ADMIN" in.json
check_eq "session read back" "$(c -H "Cookie: $cookie" "$BASE/console/session" | jq -r .csrf)" "$csrf"

# The management API with the session.
check_eq "read with cookie" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE/devedge/v1/apps")" 200
check_eq "change without CSRF 403" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" \
  -H 'Content-Type: application/json' -d '{"name":"a1"}' "$BASE/devedge/v1/apps")" 403
check_eq "change with a wrong CSRF 403" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" \
  -H "X-CSRF-Token: ${csrf//[0-9]/a}x" -H 'Content-Type: application/json' -d '{"name":"a1"}' "$BASE/devedge/v1/apps")" 403
check_eq "change with CSRF 201" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" \
  -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' -d '{"name":"a1"}' "$BASE/devedge/v1/apps")" 201
check_eq "a made-up cookie 401" "$(c -o /dev/null -w '%{http_code}' \
  -H "Cookie: taap_console=$(printf '%064d' 0)" "$BASE/devedge/v1/apps")" 401

# Kits with the kit's own numbers (Luhn-checked) and device status.
check_eq "bad IMEI Luhn 400" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" \
  -H 'Content-Type: application/json' -d '{"app":"a1","imei":"490154203237519","iccid":"89012600000000000007"}' \
  "$BASE/devedge/v1/kits")" 400
c -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d '{"app":"a1","imei":"490154203237518","iccid":"8901260000000000006"}' "$BASE/devedge/v1/kits" > kit.json
check_eq "kit with its IMEI" "$(jq -r .imei kit.json)" 490154203237518
check_eq "kit twice 409" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" \
  -H 'Content-Type: application/json' -d '{"app":"a1","imei":"490154203237518","iccid":"8901260000000000006"}' \
  "$BASE/devedge/v1/kits")" 409
check_eq "suspend" "$(c -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -X PATCH -d '{"status":"SUSPENDED"}' "$BASE/devedge/v1/devices/8901260000000000006" | jq -r .status)" SUSPENDED
"$TAAP" admin --url "$BASE" --admin-token-file "$tmp/admin" device activate 8901260000000000006 > out.txt
check_grep "taap admin device activate" "^device 8901260000000000006 is ACTIVE" out.txt

# Sign-out needs the CSRF token; afterwards the cookie is worthless.
check_eq "sign-out without CSRF 403" "$(c -o /dev/null -w '%{http_code}' -X DELETE -H "Cookie: $cookie" "$BASE/console/session")" 403
c -D h.txt -o /dev/null -X DELETE -H "Cookie: $cookie" -H "X-CSRF-Token: $csrf" "$BASE/console/session"
check_grep "sign-out 204" "^HTTP/1.1 204" h.txt
check_grep "cookie cleared" "^Set-Cookie: taap_console=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" h.txt
check_eq "cookie after sign-out 401" "$(c -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE/devedge/v1/apps")" 401
finish
