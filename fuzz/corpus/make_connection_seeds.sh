#!/usr/bin/env bash
# Writes the seed corpus of connection_fuzzer (fuzz/corpus/connection/): the bytes a client
# sends on one connection, for the hostile cases of issue 13 and a few valid requests. The
# outputs are committed; run this again after changing it (it empties the folder first).
# "$KEY", "$CID" and "$OCID" are replaced by the fuzzer with the valid API key and ids.
#
# Seeds stay small (at most about 21 KB; scripts/fuzz.sh runs this target with -max_len=32768).
# The large cases (a request line of 100 KB and 1 MB, 10,000 headers, one header of 64 KB
# and 1 MB, a chunk extension or trailer of 1 MB) are in tests/blackbox/hostile_input.test.mjs,
# against the real binary; here the same limits are reached with 16-21 KB.
# Usage: fuzz/corpus/make_connection_seeds.sh
set -euo pipefail
dir="$(dirname "$0")/connection"
mkdir -p "$dir"
cd "$dir"
find . -maxdepth 1 -type f -delete

# seed NAME FORMAT [ARG...]: the file NAME holds printf FORMAT ARG... (escapes: \r \n \xNN).
seed() {
  local name=$1
  shift
  # shellcheck disable=SC2059
  printf "$@" >"$name"
}
# repeat N TEXT: TEXT N times.
repeat() { local i out=""; for ((i = 0; i < $1; i++)); do out+=$2; done; printf '%s' "$out"; }
# numbered N TEXT: TEXT for 1..N, with %d replaced by the number, concatenated (escapes are
# left to seed's printf: a command substitution would drop a trailing \n).
numbered() { local i out=""; for ((i = 1; i <= $1; i++)); do out+=${2//%d/$i}; done; printf '%s' "$out"; }

auth_url='POST /v1/integrations/$CID/users/u-1/auth-url HTTP/1.1\r\nHost: fuzz\r\nx-api-key: $KEY\r\n'
json='{"redirectUri":"https://app.example.com/done"}'

# Valid requests.
seed healthz 'GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n'
seed healthz_close 'GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed healthz_http10 'GET /healthz HTTP/1.0\r\n\r\n'
seed healthz_http10_keep_alive 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /readyz HTTP/1.0\r\n\r\n'
seed head_healthz 'HEAD /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed list_integrations 'GET /v1/integrations?active=false HTTP/1.1\r\nHost: fuzz\r\nx-api-key: $KEY\r\nx-request-id: fuzz-1\r\n\r\n'
seed list_bearer 'GET /v1/integrations HTTP/1.1\r\nAuthorization: Bearer $KEY\r\nConnection: keep-alive\r\n\r\n'
seed no_key 'GET /v1/integrations HTTP/1.1\r\nHost: fuzz\r\n\r\n'
seed get_user 'GET /v1/integrations/$CID/users/u-1 HTTP/1.1\r\nx-api-key: $KEY\r\n\r\n'
seed get_credentials 'GET /v1/integrations/$CID/users/u-1/credentials HTTP/1.1\r\nx-api-key: $KEY\r\n\r\n'
seed delete_user 'DELETE /v1/integrations/$OCID/users/u-2 HTTP/1.1\r\nx-api-key: $KEY\r\n\r\n'
seed auth_url "${auth_url}"'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' ${#json} "$json"
seed auth_url_chunked "${auth_url}"'Transfer-Encoding: chunked\r\n\r\n10\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' \
  "${json:0:16}" $((${#json} - 16)) "${json:16}"
seed connect_form 'POST /connect/not-a-token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 17\r\n\r\ncsrf=x&token=abcd'
seed oauth_callback 'GET /oauth/callback?state=s&code=c HTTP/1.1\r\n\r\n'
seed proxy_get 'GET /v1/proxy/$CID/u-1/v1/customers?limit=1 HTTP/1.1\r\nx-api-key: $KEY\r\n\r\n'
seed proxy_head 'HEAD /v1/proxy/$CID/u-1/v1/customers HTTP/1.1\r\nx-api-key: $KEY\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed proxy_post_chunked 'POST /v1/proxy/$CID/u-1/v1/customers HTTP/1.1\r\nx-api-key: $KEY\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nemail\r\n3\r\n=a@\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed proxy_post_unread 'POST /v1/proxy/$CID/u-1/v1/x HTTP/1.1\r\nx-api-key: $KEY\r\nContent-Length: 100\r\n\r\nshort'
seed openapi 'GET /openapi.json HTTP/1.1\r\n\r\n'
seed metrics 'GET /metrics HTTP/1.1\r\n\r\n'
seed absolute_target 'GET http://registry.example.test/healthz HTTP/1.1\r\n\r\n'
seed asterisk_target 'OPTIONS * HTTP/1.1\r\n\r\n'
seed leading_crlf '\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed get_with_body 'GET /healthz HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET /healthz HTTP/1.1\r\n\r\n'
seed request_id_long 'GET /healthz HTTP/1.1\r\nx-request-id: %s\r\n\r\n' "$(repeat 200 r)"

# The request line and the head: 16 KiB in all.
seed request_line_16k 'GET /%s HTTP/1.1\r\nHost: fuzz\r\n\r\n' "$(repeat 16384 a)"
seed headers_100 "GET /healthz HTTP/1.1\\r\\n$(numbered 100 'X-Header-%d: value\r\n')\\r\\n"
seed headers_1000 "GET /healthz HTTP/1.1\\r\\n$(numbered 1000 'X-Header-%d: value\r\n')\\r\\n"
seed header_20k 'GET /healthz HTTP/1.1\r\nX-Big: %s\r\n\r\n' "$(repeat 20000 b)"

# Not HTTP/1.x.
seed no_version 'GET /\r\n\r\n'
seed http09 'GET /\r\n'
seed http30_version 'GET /healthz HTTP/3.0\r\n\r\n'
seed h2_preface 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
# A TLS record header, a handshake header and a short ClientHello (TLS 1.2, no extensions).
seed tls_client_hello '\x16\x03\x01\x00\x2d\x01\x00\x00\x29\x03\x03%s\x00\x00\x02\x13\x01\x01\x00' \
  "$(repeat 32 Z)"

# Line ends and bytes that are not allowed.
seed bare_lf 'GET /healthz HTTP/1.1\nHost: fuzz\n\n'
seed obs_fold 'GET /healthz HTTP/1.1\r\nX-Folded: a\r\n b\r\nHost: fuzz\r\n\r\n'
seed nul_method 'G\x00T /healthz HTTP/1.1\r\n\r\n'
seed nul_target 'GET /health\x00z HTTP/1.1\r\n\r\n'
seed nul_header_value 'GET /healthz HTTP/1.1\r\nX-A: a\x00b\r\n\r\n'
seed ctl_header_name 'GET /healthz HTTP/1.1\r\nX-\x01A: b\r\n\r\n'
seed del_target 'GET /he\x7fz HTTP/1.1\r\n\r\n'
seed space_in_header_name 'GET /healthz HTTP/1.1\r\nX A: b\r\n\r\n'
seed space_before_colon 'GET /healthz HTTP/1.1\r\nHost : fuzz\r\n\r\n'
seed lowercase_method 'get /healthz HTTP/1.1\r\n\r\n'

# Body framing.
seed content_length_twice "${auth_url}"'Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}'
seed content_length_conflict "${auth_url}"'Content-Length: 2\r\nContent-Length: 20\r\n\r\n{}'
seed content_length_list "${auth_url}"'Content-Length: 2, 2\r\n\r\n{}'
seed content_length_negative 'POST /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n'
seed content_length_huge 'POST /healthz HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n'
seed content_length_over_limit 'POST /v1/integrations HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n'
seed content_length_and_chunked 'POST /healthz HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
seed chunked_and_content_length 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'
seed te_gzip 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc'
seed te_gzip_chunked 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
seed te_chunked_twice 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
seed chunk_size_overflow 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n'
seed chunk_size_over_limit 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\nabc\r\n0\r\n\r\n'
seed chunked_over_limit "${auth_url}"'Transfer-Encoding: chunked\r\n\r\n1000\r\n%s\r\n1000\r\n%s\r\n10\r\n%s\r\n0\r\n\r\n' \
  "$(repeat 4096 x)" "$(repeat 4096 y)" "$(repeat 16 z)"
seed chunk_extension_16k 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=%s\r\nabc\r\n0\r\n\r\n' \
  "$(repeat 16000 e)"
seed chunk_trailers "${auth_url}"'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n'
seed chunk_bad_size 'POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'
seed expect_100_body "${auth_url}"'Expect: 100-continue\r\nContent-Length: %d\r\n\r\n%s' ${#json} "$json"
seed expect_100_no_body "${auth_url}"'Expect: 100-continue\r\nContent-Length: %d\r\n\r\n' ${#json}
seed expect_100_get 'GET /healthz HTTP/1.1\r\nExpect: 100-continue\r\n\r\n'
seed expect_other 'GET /healthz HTTP/1.1\r\nExpect: 200-ok\r\n\r\n'

# Pipelining: 100 requests in one write, a few of them with bodies.
pipelined=""
for ((i = 1; i <= 100; i++)); do
  case $((i % 10)) in
    3) pipelined+='GET /v1/integrations HTTP/1.1\r\nx-api-key: $KEY\r\n\r\n' ;;
    7) pipelined+="${auth_url}"'Content-Length: 2\r\n\r\n{}' ;;
    *) pipelined+="GET /healthz?n=$i HTTP/1.1\\r\\n\\r\\n" ;;
  esac
done
seed pipelined_100 "$pipelined"

ls | wc -l | xargs echo "connection seeds:"
du -cb -- * | tail -n 1
