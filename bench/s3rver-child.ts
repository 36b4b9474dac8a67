/**
 * s3rver in a process of its own, for the PITR bench: a remote S3 does not share the restoring
 * process's event loop, so the server must not either. Prints `READY <json>` and runs until stdin closes.
 */
import { startS3 } from '../test/harness/s3.js';

const s3 = await startS3();
process.stdout.write(`READY ${JSON.stringify({ endpoint: s3.endpoint, env: s3.env })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void s3.stop().then(() => process.exit(0));
});
