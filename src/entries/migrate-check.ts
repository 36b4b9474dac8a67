import { run } from '../actions/migrate-check.js';

await run();
