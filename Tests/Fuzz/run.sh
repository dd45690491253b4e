#!/usr/bin/env bash
# Builds the fuzz target with libFuzzer (swiftc -sanitize=fuzzer) and runs each parser for N seconds.
# A finding leaves crash-* files in .build/fuzz and makes this script fail.
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/../.."
out=.build/fuzz
mkdir -p "$out"
sources=(Sources/Schema/*.swift Sources/HTTPServer/HTTPRequestParser.swift Sources/HTTPServer/HTTPRequest.swift \
  Sources/HTTPServer/HTTPHeaders.swift Tests/Fuzz/FuzzMain.swift)
swiftc -swift-version 6 -O -sanitize=fuzzer,address -parse-as-library -module-name CorralFuzz "${sources[@]}" -o "$out/corral-fuzz"

seed() { mkdir -p "$out/corpus-$1"; printf '%b' "$2" > "$out/corpus-$1/seed-$3"; }
seed http '\x07GET /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n' 1
seed http '\x03POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4;a=b\r\nwiki\r\n0\r\nT: 1\r\n\r\n' 2
seed http '\x20PUT /x HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabcGET / HTTP/1.1\r\n\r\n' 3
seed property 'virtio,bridge=vmbr0,tag=10,firewall=1,macaddr=BC:24:11:00:00:01,rate=1.5,size=32G,ip=10.0.0.1,name="a-b"' 1
seed property 'e1000,name=x' 2
seed json '{"a":[1,2.5e3,"\\u00e9\\ud83d\\ude00",true,null,{"b":-0}]}' 1

status=0
for target in http property json; do
  echo "== fuzzing $target for ${seconds}s"
  if ! FUZZ_TARGET=$target "$out/corral-fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$out/$target-" -print_final_stats=1 "$out/corpus-$target" 2>"$out/$target.log"; then
    echo "FINDING in $target:"; tail -30 "$out/$target.log"; status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss" "$out/$target.log" | sed "s/^/  /"
  fi
done
exit $status
