/** The agreement protocols by name: the one registry the runtime, the simulator scenarios and the CLI use. */
import type { AnyProtocol } from '../protocol/types.js';
import { lockstepProtocol } from './lockstep.js';
import { streamProtocol } from './stream.js';

export type AgreementProtocolName = 'stream' | 'lockstep';

export const AGREEMENT_PROTOCOLS: Readonly<Record<AgreementProtocolName, AnyProtocol>> = {
  stream: streamProtocol,
  lockstep: lockstepProtocol,
};
