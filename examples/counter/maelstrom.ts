#!/usr/bin/env node
/**
 * The counter as a Maelstrom node binary: `maelstrom test -w g-counter --bin maelstrom.js`, or without a JVM
 * `chatterbox harness -w g-counter --bin maelstrom.js`. Logs go to stderr; the node exits when stdin closes.
 */
import { runMaelstromStdio } from 'chatterbox/maelstrom';
import { counterWorkload } from './counter.js';

process.exitCode = await runMaelstromStdio({ workloads: [counterWorkload] });
