// Drives tus-js-client (the real client, as browsers and Node apps use it)
// against a server for the Go tests in ../jsclient_test.go.
//
// Usage: node upload.mjs <scenario> <endpoint> <file> [protocol]
// protocol is tus-js-client's: tus-v1 (the default), ietf-draft-03 (interop
// version 5) or ietf-draft-05 (interop version 6).
// Prints one JSON line with the outcome; exits non-zero on failure.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { Upload } from 'tus-js-client';

const [scenario, endpoint, file, protocol = 'tus-v1'] = process.argv.slice(2);
const data = fs.readFileSync(file);

function upload(source, options) {
  return new Promise((resolve, reject) => {
    const up = new Upload(source, {
      endpoint,
      protocol,
      retryDelays: [0, 100, 500],
      metadata: { filename: 'réport ✓.bin', filetype: 'application/octet-stream' },
      ...options,
      onError: reject,
      onSuccess: () => resolve(up),
    });
    up.start();
  });
}

async function main() {
  switch (scenario) {
    case 'basic': {
      const up = await upload(data, { chunkSize: 1 << 20 });
      return { url: up.url };
    }
    case 'single-request': {
      const up = await upload(data, { uploadDataDuringCreation: true });
      return { url: up.url };
    }
    case 'resume': {
      // Abort once some bytes are stored, then resume from the server's offset.
      let aborted;
      const first = await new Promise((resolve, reject) => {
        const up = new Upload(data, {
          endpoint,
          protocol,
          chunkSize: 256 << 10,
          retryDelays: [],
          onError: reject,
          onSuccess: () => reject(new Error('finished before abort')),
          onChunkComplete: (_size, accepted) => {
            if (accepted >= 1 << 20 && aborted === undefined) {
              aborted = accepted;
              up.abort().then(() => resolve(up));
            }
          },
        });
        up.start();
      });
      let resumedFrom = -1;
      const second = await upload(data, {
        chunkSize: 256 << 10,
        uploadUrl: first.url,
        onProgress: (sent) => { if (resumedFrom < 0) resumedFrom = sent; },
      });
      if (second.url !== first.url) throw new Error('resumed into a new upload');
      return { url: second.url, aborted, resumedFrom };
    }
    case 'parallel': {
      const up = await upload(data, { parallelUploads: 3 });
      return { url: up.url };
    }
    case 'deferred': {
      // A stream of unknown length, produced in pieces of uneven size.
      const stream = Readable.from((function* pieces() {
        for (let off = 0; off < data.length; off += 50000) yield data.subarray(off, off + 50000);
      })());
      const up = await upload(stream, { chunkSize: 300 << 10, uploadLengthDeferred: true });
      return { url: up.url };
    }
    case 'terminate': {
      const up = await upload(data.subarray(0, 1000), { chunkSize: 1 << 20 });
      await Upload.terminate(up.url, { retryDelays: [], protocol });
      return { url: up.url };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

main().then(
  (result) => { console.log(JSON.stringify(result)); },
  (err) => { console.error(String(err && err.stack || err)); process.exit(1); },
);
