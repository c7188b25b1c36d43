<?php
// A WL 1.0 call as a PHP school system makes it: SoapClient from the served WSDL.
// Usage: php call.php WSDL_URL OPERATION [REQUEST_JSON]   (REQUEST_JSON on stdin when absent)
// Prints one JSON object: {"result": ..., "location": "<path the client posted to>", "host": "..."}
// or {"fault": {"faultcode": ..., "faultstring": ...}, ...}. Exit code 0 in both cases; 2 on usage errors.
if ($argc < 3) {
    fwrite(STDERR, "usage: php call.php WSDL_URL OPERATION [REQUEST_JSON]\n");
    exit(2);
}
if (!extension_loaded('soap')) {
    fwrite(STDERR, "the PHP soap extension is not loaded\n");
    exit(3);
}
$wsdl = $argv[1];
$operation = $argv[2];
$json = $argc > 3 ? $argv[3] : stream_get_contents(STDIN);
$request = json_decode($json, true);
if (!is_array($request)) {
    fwrite(STDERR, "the request is not a JSON object\n");
    exit(2);
}
$out = [];
$client = null;
try {
    $client = new SoapClient($wsdl, ['trace' => 1, 'exceptions' => true, 'cache_wsdl' => WSDL_CACHE_NONE,
                                     'connection_timeout' => 10]);
    $result = $client->__soapCall($operation, [['request' => $request]]);
    $out['result'] = $result;
} catch (SoapFault $f) {
    $out['fault'] = ['faultcode' => $f->faultcode, 'faultstring' => $f->faultstring];
}
if ($client !== null) {
    $headers = (string)$client->__getLastRequestHeaders();
    if (preg_match('/^POST (\S+) HTTP/', $headers, $m)) {
        $out['location'] = $m[1];
    }
    if (preg_match('/^Host: *(\S+)/mi', $headers, $m)) {
        $out['host'] = $m[1];
    }
    $out['soapaction'] = preg_match('/^SOAPAction: *(.*)$/mi', $headers, $m) ? trim($m[1]) : null;
}
echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRETTY_PRINT), "\n";
