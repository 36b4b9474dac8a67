import { inspectStream } from '../src/archive/inspect.js';
import { fileChunks } from '../src/archive/lanes.js';

const file = process.argv[2] as string;
for (let i = 0; i < Number(process.env.N ?? 3); i++) {
  const c = process.cpuUsage();
  const t = performance.now();
  const v = await inspectStream(fileChunks(file), { file });
  const u = process.cpuUsage(c);
  console.log(
    v.dataBytes,
    ((performance.now() - t) / 1000).toFixed(2),
    's cpu',
    ((u.user + u.system) / 1e6).toFixed(2),
    'rss',
    (process.memoryUsage().rss / 1048576).toFixed(0),
  );
}
