/**
 * `npm run demo:local`: a 3-member cluster in this process (memory storage, memory network, real
 * timers) takes writes from concurrent clients, loses its leader, elects a new one, gets the
 * crashed member back, and shows that every member ends with the same state. (`npm start` runs
 * the browser demo.)
 */
import { KvSession } from '../client/kv-session.js';
import type { KvMember } from './local-cluster.js';
import { LocalCluster } from './local-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Phase {
  readonly name: string;
  readonly seconds: number;
}

function describe(member: KvMember): string {
  const s = member.status();
  if (s.stopped) return `${s.id}: crashed`;
  return `${s.id}: ${s.role.padEnd(9)} term ${s.term} commit ${s.commitIndex} applied ${s.appliedIndex}`;
}

async function waitForLeader(cluster: LocalCluster): Promise<KvMember> {
  for (;;) {
    const leader = cluster.leader();
    if (leader !== null) return leader;
    await sleep(10);
  }
}

async function writer(
  cluster: LocalCluster,
  name: string,
  until: () => boolean,
  acked: { count: number },
): Promise<void> {
  const session = await KvSession.open({
    submit: (c) => cluster.submit(c),
    sleep,
    attemptsMax: 200,
    retryDelayMs: 10,
  });
  for (let i = 0; !until(); i++) {
    await session.put(`${name}/${i % 16}`, { writer: name, i });
    acked.count++;
  }
}

async function main(): Promise<void> {
  const concurrency = Number(process.env.DEMO_CLIENTS ?? 64);
  const cluster = await LocalCluster.start({ size: 3, tickMs: 10 });
  console.log(
    'webraft demo: 3 members in this process (memory storage, memory network, 10 ms ticks)',
  );
  const first = await waitForLeader(cluster);
  console.log(`leader elected: ${first.status().id} in term ${first.status().term}\n`);

  const phases: Phase[] = [
    { name: 'steady writes', seconds: 3 },
    { name: 'leader crashed', seconds: 2 },
    { name: 'member restarted', seconds: 2 },
  ];
  let done = false;
  const acked = { count: 0 };
  const writers = Array.from({ length: concurrency }, (_, i) =>
    writer(cluster, `c${i}`, () => done, acked),
  );
  let crashed: string | null = null;
  for (const phase of phases) {
    if (phase.name === 'leader crashed') {
      crashed = (await waitForLeader(cluster)).status().id;
      const crashedAt = performance.now();
      await cluster.crash(crashed);
      console.log(`-- crashing leader ${crashed}`);
      const next = await waitForLeader(cluster);
      const ms = (performance.now() - crashedAt).toFixed(0);
      console.log(`-- ${next.status().id} leads term ${next.status().term} after ${ms} ms`);
    }
    if (phase.name === 'member restarted' && crashed !== null) {
      await cluster.startMember(crashed);
      console.log(`-- restarting ${crashed} from its disk`);
    }
    for (let second = 0; second < phase.seconds; second++) {
      const before = acked.count;
      await sleep(1000);
      const leader = cluster.leader()?.status().id ?? 'none';
      console.log(`[${phase.name}] ${acked.count - before} ops/s acknowledged, leader ${leader}`);
    }
  }
  done = true;
  await Promise.all(writers);
  await sleep(200);
  console.log('');
  for (const id of cluster.ids) console.log(describe(cluster.member(id)));
  const digests = new Set(cluster.ids.map((id) => cluster.stateMachine(id).digest()));
  console.log(
    `\n${acked.count} writes acknowledged; state digests ${digests.size === 1 ? 'identical on every member' : 'differ (still catching up)'}.`,
  );
  await cluster.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
