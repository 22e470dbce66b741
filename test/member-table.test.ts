/** The one bounded member table of a node process (runtime/member-table.ts): SWIM's events in, its bound kept. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeId } from '../src/core/ids.js';
import { MAX_TRACKED_MEMBERS, MemberTable, isMembershipEvent, type MemberStateName, type TrackedMember } from '../src/runtime/member-table.js';

const member = (id: string, state: MemberStateName, incarnation = 0): TrackedMember => ({ id: nodeId(id), state, incarnation });

describe('MemberTable', () => {
  test('a member event sets the entry, a forgotten one removes it; the previous entry is reported', () => {
    const table = new MemberTable<TrackedMember>();
    assert.deepEqual(table.apply({ kind: 'member', member: member('n2', 'alive') }), { before: undefined, tracked: true });
    assert.deepEqual(table.apply({ kind: 'member', member: member('n2', 'dead') }), { before: member('n2', 'alive'), tracked: true });
    assert.equal(table.countByState().get('dead'), 1);
    assert.deepEqual(table.apply({ kind: 'forgotten', id: nodeId('n2') }), { before: member('n2', 'dead'), tracked: false });
    assert.equal(table.size, 0);
    assert.deepEqual([...table.countByState().values()], [0, 0, 0, 0]);
    assert.deepEqual(table.apply({ kind: 'forgotten', id: nodeId('never') }), { before: undefined, tracked: false });
  });

  test('at the bound the oldest dead or left entry makes room; with none, a new member is refused', () => {
    const table = new MemberTable<TrackedMember>();
    table.apply({ kind: 'member', member: member('gone', 'left') });
    for (let i = 1; i < MAX_TRACKED_MEMBERS; i++) table.apply({ kind: 'member', member: member(`m${i}`, 'alive') });
    assert.equal(table.size, MAX_TRACKED_MEMBERS);
    assert.equal(table.apply({ kind: 'member', member: member('new', 'alive') }).tracked, true);
    assert.equal(table.get(nodeId('gone')), undefined, 'the left member made room');
    assert.equal(table.apply({ kind: 'member', member: member('one-too-many', 'alive') }).tracked, false);
    assert.equal(table.size, MAX_TRACKED_MEMBERS);
    assert.equal(table.apply({ kind: 'member', member: member('m1', 'suspect') }).tracked, true, 'a known member is always updated');
  });

  test('recognises both event kinds, nothing else', () => {
    assert.ok(isMembershipEvent({ kind: 'member', member: member('n1', 'alive') }));
    assert.ok(isMembershipEvent({ kind: 'forgotten', id: 'n1' }));
    for (const other of [null, 7, { kind: 'deliver' }, { id: 1, ok: true }]) assert.ok(!isMembershipEvent(other));
  });
});
