import { run } from '../actions/github-report.js';

await run();
