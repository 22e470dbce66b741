/** The process side of membership, as a unit: member events drive a (fake) transport's peer table. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeId, type NodeId } from '../src/core/ids.js';
import { silentLogger } from '../src/platform/log.js';
import type { Member, MemberState } from '../src/membership/index.js';
import { MembershipDriver, isMemberEvent } from '../src/runtime/membership-driver.js';
import type { PeerAddress } from '../src/transport/tcp-transport.js';

function fakeTransport() {
  const calls: string[] = [];
  return {
    calls,
    transport: {
      self: nodeId('n1'),
      addPeer: (a: PeerAddress) => (calls.push(`add ${a.id} ${a.host}:${a.port}`), true),
      removePeer: (id: NodeId) => (calls.push(`remove ${id}`), true),
      connectedPeers: () => [],
    },
  };
}

const member = (id: string, state: MemberState, address = `10.0.0.${id.slice(1)}:3000`, incarnation = 0): Member => ({ id: nodeId(id), address, incarnation, state });

describe('MembershipDriver', () => {
  test('dynamic: alive and suspect members are dialed, dead and left ones forgotten; self and unknown addresses are not', () => {
    const { calls, transport } = fakeTransport();
    const driver = new MembershipDriver(transport, true, silentLogger());
    for (const m of [member('n1', 'alive'), member('n2', 'alive'), member('n3', 'alive', ''), member('n2', 'suspect'), member('n2', 'dead'), member('n4', 'left'), member('n5', 'alive', '[fd00::5]:3000')]) driver.onMember(m);
    assert.deepEqual(calls, ['add n2 10.0.0.2:3000', 'add n2 10.0.0.2:3000', 'remove n2', 'remove n4', 'add n5 fd00::5:3000']);
    assert.deepEqual(driver.members().map((m) => [m.id, m.state]), [['n1', 'alive'], ['n2', 'dead'], ['n3', 'alive'], ['n4', 'left'], ['n5', 'alive']]);
    assert.deepEqual(driver.aliveOthers(), ['n3', 'n5']);
  });

  test('static: states are kept, the transport is left as configured', () => {
    const { calls, transport } = fakeTransport();
    const driver = new MembershipDriver(transport, false, silentLogger());
    driver.onMember(member('n2', 'dead'));
    driver.onMember(member('n2', 'alive', '10.0.0.2:3000', 1));
    assert.deepEqual(calls, []);
    assert.deepEqual(driver.members(), [member('n2', 'alive', '10.0.0.2:3000', 1)]);
  });

  test('waitFor: true on the change that makes it hold, false on timeout or stop', async () => {
    const { transport } = fakeTransport();
    const driver = new MembershipDriver(transport, true, silentLogger());
    const stop = new AbortController();
    const waiting = driver.waitFor(() => driver.aliveOthers().length > 0, 60_000, stop.signal);
    driver.onMember(member('n2', 'alive'));
    assert.equal(await waiting, true);
    const stopped = driver.waitFor(() => false, 60_000, stop.signal);
    stop.abort();
    assert.equal(await stopped, false);
    assert.equal(await driver.waitFor(() => false, 1, new AbortController().signal), false);
    assert.ok(isMemberEvent({ kind: 'member', member: member('n2', 'alive') }));
    assert.ok(!isMemberEvent({ id: 1, ok: true, result: null }));
  });
});
