// A streamed outbound call on a TransferLoop: CurlHttpClient::Stream. Internal to src/net/.
#pragma once

#include <memory>

#include "core/result.h"
#include "net/curl_http_client.h"
#include "net/http_client.h"

namespace tr::net {

class TransferLoop;

// Runs `call` on `loop` and returns once the head is in and the request body has been
// handed to curl whole: a streamed body is read on the calling thread, ahead of curl, and a
// body given whole is read in place. The answer's body then arrives in a queue bounded at
// 256 KiB: a full queue pauses the transfer, and its reader resumes it; dropping the reader
// abandons the call (and closes its connection) unless the body has arrived whole.
Result<StreamedResult> StreamOnLoop(const HttpCall& call, const CurlOptions& options,
                                    const std::shared_ptr<TransferLoop>& loop);

// The same without waiting (HttpClient::StartStream): `done` runs on the loop thread once
// the head is in and as much of the body as `ready` asks for is queued, or the call failed.
// Until then the body may queue up to `ready.bytes` (at least the usual 256 KiB) before the
// transfer pauses. `call.body_reader` must be unset.
void StartStreamOnLoop(HttpCall call, StreamReady ready, const CurlOptions& options,
                       const std::shared_ptr<TransferLoop>& loop, HttpClient::StreamDone done);

}  // namespace tr::net
