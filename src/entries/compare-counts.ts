import { run } from '../actions/compare-counts.js';

await run();
