import { run } from '../actions/restorable.js';

await run();
