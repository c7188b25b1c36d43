#!/usr/bin/env bash
# System packages the test suite needs beyond Python, from Debian's packages when missing and we are root:
#   php-cli + php-soap  PHP's SoapClient (an independent SOAP client)
#   chromium            headless browser for the generated HTML reports and the console (no browser download:
#                       Debian's, driven by Playwright through its executable path)
# Otherwise the tests that need them skip with a reason.
set -u
missing=()
php -m 2>/dev/null | grep -qi '^soap$' || missing+=(php-cli php-soap)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} = 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "could not install ${missing[*]}; the tests that need them will skip" >&2
else
  echo "${missing[*]} missing and cannot be installed here; the tests that need them will skip" >&2
fi
exit 0
