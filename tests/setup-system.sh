#!/usr/bin/env bash
# System packages the test suite needs beyond Python: PHP's SoapClient (an independent SOAP client).
# Installed from Debian's packages when missing and we are root; otherwise those tests skip with a reason.
set -u
if php -m 2>/dev/null | grep -qi '^soap$'; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing php-cli and php-soap for the SOAP interoperability tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli php-soap >/dev/null) \
    || echo "could not install php-soap; the PHP client tests will skip" >&2
else
  echo "php-soap is missing and cannot be installed here; the PHP client tests will skip" >&2
fi
exit 0
