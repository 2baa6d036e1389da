import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "mocha";
import {
  InvalidMeshOptionError,
  MeshNode,
  MessageTooLargeError,
  NoSubscribersError,
  loadOrCreatePeerKey,
} from "../../protocol/gossip/index.ts";

const TOPIC = "/vb/test/1";
const text = new TextEncoder();

/** Collects messages a node delivers, and resolves when `count` have arrived (bounded wait). */
function collector() {
  const received: { text: string; from: string }[] = [];
  return {
    received,
    onMessage: (data: Uint8Array, from: string) => received.push({ text: new TextDecoder().decode(data), from }),
    async waitFor(count: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return received;
    },
  };
}

describe("protocol/gossip mesh (libp2p over TCP on 127.0.0.1)", function () {
  this.timeout(30_000);
  let hub: MeshNode;
  let a: MeshNode;
  let b: MeshNode;
  const atHub = collector();
  const atA = collector();

  before(async () => {
    hub = await MeshNode.start();
    a = await MeshNode.start({ bootstrap: hub.addresses });
    b = await MeshNode.start({ bootstrap: hub.addresses });
    // Only well-formed messages ("ok:" prefix) are delivered; others are rejected at the gate.
    const validate = (data: Uint8Array): "accept" | "reject" => (new TextDecoder().decode(data).startsWith("ok:") ? "accept" : "reject");
    hub.subscribe(TOPIC, { validate, onMessage: atHub.onMessage });
    a.subscribe(TOPIC, { validate, onMessage: atA.onMessage });
    b.subscribe(TOPIC, { onMessage: () => {} });
    await b.waitForSubscribers(TOPIC, 1, 10_000);
    await hub.waitForSubscribers(TOPIC, 2, 10_000);
  });

  after(async () => {
    await Promise.all([hub?.stop(), a?.stop(), b?.stop()]);
  });

  it("delivers a published message to every subscriber, signed by the publisher's peer id", async () => {
    const sent = await b.publish(TOPIC, text.encode("ok:attestation-1"));
    assert.ok(sent >= 1);
    const hubGot = await atHub.waitFor(1);
    const aGot = await atA.waitFor(1);
    assert.deepEqual(hubGot.map((m) => m.text), ["ok:attestation-1"]);
    assert.deepEqual(aGot.map((m) => m.text), ["ok:attestation-1"]);
    assert.equal(hubGot[0]!.from, b.peerId);
  });

  it("drops messages its validator rejects and still delivers the next good one", async () => {
    await b.publish(TOPIC, text.encode("garbage"));
    await b.publish(TOPIC, text.encode("ok:attestation-2"));
    const got = await atHub.waitFor(2);
    assert.deepEqual(got.map((m) => m.text), ["ok:attestation-1", "ok:attestation-2"]);
  });

  it("refuses to send a message over the size limit", async () => {
    await assert.rejects(b.publish(TOPIC, new Uint8Array(64 * 1024 + 1)), MessageTooLargeError);
  });

  it("says so when nobody is subscribed to a topic", async () => {
    await assert.rejects(b.publish("/vb/test/nobody", text.encode("ok:x")), NoSubscribersError);
  });
});

describe("protocol/gossip options and identity", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "vb-gossip-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("rejects bad listen and bootstrap addresses, naming the field", async () => {
    await assert.rejects(MeshNode.start({ listen: ["not-an-address"] }), (e: unknown) => e instanceof InvalidMeshOptionError && e.field === "listen[0]");
    await assert.rejects(MeshNode.start({ bootstrap: ["/ip4/127.0.0.1/tcp/4001"] }), (e: unknown) => e instanceof InvalidMeshOptionError && e.field === "bootstrap[0]");
    await assert.rejects(MeshNode.start({ maxMessageBytes: 0 }), InvalidMeshOptionError);
    await assert.rejects(MeshNode.start({ colocatedIps: ["127.0.0.1", "localhost"] }), (e: unknown) => e instanceof InvalidMeshOptionError && e.field === "colocatedIps[1]");
    await assert.rejects(MeshNode.start({ redialIntervalMs: -1 }), (e: unknown) => e instanceof InvalidMeshOptionError && e.field === "redialIntervalMs");
  });

  it("dials its bootstrap peer again after that peer restarts (same key, same port)", async function () {
    this.timeout(30_000);
    const key = await loadOrCreatePeerKey(join(dir, "hub.key"));
    let hub = await MeshNode.start({ privateKey: key });
    const listen = hub.addresses.map((a) => a.replace(/\/p2p\/.*$/, ""));
    const node = await MeshNode.start({ bootstrap: hub.addresses, redialIntervalMs: 200 });
    try {
      hub.subscribe(TOPIC, { onMessage: () => {} });
      node.subscribe(TOPIC, { onMessage: () => {} });
      await node.waitForSubscribers(TOPIC, 1, 10_000);
      await hub.stop();
      hub = await MeshNode.start({ privateKey: key, listen });
      const got = collector();
      hub.subscribe(TOPIC, { onMessage: got.onMessage });
      // The restarted hub knows nobody: only the other node's redial brings them back together.
      await node.waitForSubscribers(TOPIC, 1, 15_000);
      await node.publish(TOPIC, text.encode("ok:after restart"));
      assert.deepEqual((await got.waitFor(1)).map((m) => m.text), ["ok:after restart"]);
    } finally {
      await node.stop();
      await hub.stop();
    }
  });

  it("keeps a node's peer id across restarts through its key file (mode 0600)", async () => {
    const keyFile = join(dir, "peer.key");
    const first = await MeshNode.start({ privateKey: await loadOrCreatePeerKey(keyFile) });
    const id = first.peerId;
    await first.stop();
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const second = await MeshNode.start({ privateKey: await loadOrCreatePeerKey(keyFile) });
    assert.equal(second.peerId, id);
    await second.stop();
  });

  it("refuses a corrupt key file instead of replacing the identity", async () => {
    const keyFile = join(dir, "corrupt.key");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(keyFile, "not a key");
    await assert.rejects(loadOrCreatePeerKey(keyFile), InvalidMeshOptionError);
  });
});
