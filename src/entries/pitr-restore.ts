import { run } from '../actions/pitr-restore.js';

await run();
