import { run } from '../actions/verify-backup.js';

await run();
