import { run } from '../actions/restore-drill.js';

await run();
