// The @tus/server peer of tusbench, with its defaults:
//   node tusbench-server.mjs disk DIR PORT
//   node tusbench-server.mjs s3 BUCKET PORT   (S3_ENDPOINT, AWS_ACCESS_KEY_ID,
//                                              AWS_SECRET_ACCESS_KEY set)
import { Server } from '@tus/server'
import { FileStore } from '@tus/file-store'
import { S3Store } from '@tus/s3-store'

const [mode, target, port] = process.argv.slice(2)
let datastore
if (mode === 'disk') {
  datastore = new FileStore({ directory: target })
} else if (mode === 's3') {
  datastore = new S3Store({
    s3ClientConfig: {
      bucket: target,
      region: 'us-east-1',
      endpoint: process.env.S3_ENDPOINT,
      forcePathStyle: true,
      credentials: {
        accessKeyId: process.env.AWS_ACCESS_KEY_ID,
        secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
      },
    },
  })
} else {
  console.error('usage: tusbench-server.mjs disk|s3 DIR|BUCKET PORT')
  process.exit(2)
}
const server = new Server({ path: '/files', datastore })
server.listen({ host: '127.0.0.1', port: Number(port) })
process.on('SIGTERM', () => process.exit(0))
