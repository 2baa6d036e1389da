import { isIP } from "node:net";
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { gossipsub, TopicValidatorResult, type GossipSub } from "@libp2p/gossipsub";
import { identify, type Identify } from "@libp2p/identify";
import { bootstrap } from "@libp2p/bootstrap";
import type { PrivateKey } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { InvalidMeshOptionError, MeshTimeoutError, MessageTooLargeError, NoSubscribersError } from "./errors.ts";

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

export interface MeshOptions {
  /** Multiaddrs to listen on. Default: a free TCP port on 127.0.0.1. */
  listen?: string[];
  /** Multiaddrs of known peers, each ending in /p2p/<peer id>. */
  bootstrap?: string[];
  /** Persistent identity (see loadOrCreatePeerKey); a fresh one when absent. */
  privateKey?: PrivateKey;
  /** Largest message accepted or sent; larger ones are rejected and their sender penalised. */
  maxMessageBytes?: number;
  /**
   * IP addresses whose peers are exempt from gossipsub's IP-colocation penalty. By default more
   * than 10 peers from one address lose score quadratically until their messages are ignored (a
   * Sybil defence); list an address only where many identities really share one host, such as a
   * local simulation on loopback.
   */
  colocatedIps?: readonly string[];
  /**
   * How often a node that has lost every bootstrap peer dials them again (ms, default 5000; 0
   * never). libp2p's bootstrap discovery dials once: without this, an operator whose connection to
   * the aggregator dropped would stay outside the mesh for good.
   */
  redialIntervalMs?: number;
}

/**
 * What a subscriber decides about an incoming message before it is delivered or forwarded:
 * "accept" delivers and forwards it, "reject" drops it and lowers the sender's peer score (for
 * malformed or forged messages), "ignore" drops it quietly (for duplicates, stale batches).
 */
export type Verdict = "accept" | "reject" | "ignore";

export interface Subscription {
  /** Checked first; only accepted messages reach `onMessage` and travel further in the mesh. */
  validate?: (data: Uint8Array, from: string) => Verdict | Promise<Verdict>;
  onMessage: (data: Uint8Array, from: string) => void;
}

const VALIDATOR_RESULT: Record<Verdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  reject: TopicValidatorResult.Reject,
  ignore: TopicValidatorResult.Ignore,
};

type Services = { pubsub: GossipSub; identify: Identify };

/**
 * One node of the operators' gossip mesh: libp2p over TCP with noise encryption, yamux
 * multiplexing and gossipsub, peers found through a bootstrap list. Messages are signed by the
 * sender's peer key (gossipsub StrictSign), so a peer cannot publish in another's name.
 */
export class MeshNode {
  private redialTimer?: NodeJS.Timeout;

  private constructor(
    private readonly node: Libp2p<Services>,
    private readonly maxMessageBytes: number,
  ) {}

  /** Dials the bootstrap peers again whenever none of them is connected. */
  private keepBootstrapped(bootstrapList: readonly string[], intervalMs: number): void {
    if (bootstrapList.length === 0 || intervalMs <= 0) return;
    const peers = bootstrapList.map((address) => ({ address: multiaddr(address), id: multiaddr(address).getComponents().findLast((c) => c.name === "p2p")?.value }));
    this.redialTimer = setInterval(() => {
      const connected = new Set(this.node.getPeers().map((p) => p.toString()));
      if (peers.some((p) => p.id !== undefined && connected.has(p.id))) return;
      for (const p of peers) void this.node.dial(p.address, { signal: AbortSignal.timeout(intervalMs) }).catch(() => undefined);
    }, intervalMs);
    this.redialTimer.unref();
  }

  static async start(options: MeshOptions = {}): Promise<MeshNode> {
    const listen = options.listen ?? ["/ip4/127.0.0.1/tcp/0"];
    const bootstrapList = options.bootstrap ?? [];
    listen.forEach((address, i) => checkMultiaddr(address, `listen[${i}]`, false));
    bootstrapList.forEach((address, i) => checkMultiaddr(address, `bootstrap[${i}]`, true));
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 1 << 20) {
      throw new InvalidMeshOptionError(`maxMessageBytes must be an integer in 1..${1 << 20}, got ${maxMessageBytes}`, "maxMessageBytes");
    }
    const redialIntervalMs = options.redialIntervalMs ?? 5000;
    if (!Number.isInteger(redialIntervalMs) || redialIntervalMs < 0) throw new InvalidMeshOptionError(`redialIntervalMs must be a non-negative integer, got ${redialIntervalMs}`, "redialIntervalMs");
    const colocatedIps = options.colocatedIps ?? [];
    colocatedIps.forEach((ip, i) => {
      if (typeof ip !== "string" || isIP(ip) === 0) throw new InvalidMeshOptionError(`colocatedIps[${i}] must be an IPv4 or IPv6 address, got ${JSON.stringify(ip)}`, `colocatedIps[${i}]`);
    });
    const node = await createLibp2p({
      ...(options.privateKey ? { privateKey: options.privateKey } : {}),
      addresses: { listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList, timeout: 50 })] : [],
      services: {
        identify: identify(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: false,
          ignoreDuplicatePublishError: true,
          ...(colocatedIps.length > 0 ? { scoreParams: { IPColocationFactorWhitelist: new Set(colocatedIps) } } : {}),
        }),
      },
    });
    const mesh = new MeshNode(node, maxMessageBytes);
    mesh.keepBootstrapped(bootstrapList, redialIntervalMs);
    return mesh;
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** Addresses other nodes can bootstrap from (each ends in /p2p/<peer id>). */
  get addresses(): string[] {
    return this.node.getMultiaddrs().map((address) => address.toString());
  }

  subscribe(topic: string, subscription: Subscription): void {
    const pubsub = this.node.services.pubsub;
    pubsub.topicValidators.set(topic, async (peer, message) => {
      if (message.data.length > this.maxMessageBytes) return TopicValidatorResult.Reject;
      if (!subscription.validate) return TopicValidatorResult.Accept;
      try {
        return VALIDATOR_RESULT[await subscription.validate(message.data, peer.toString())];
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    pubsub.addEventListener("message", (event) => {
      const message = event.detail;
      if (message.topic !== topic) return;
      const from = message.type === "signed" ? message.from.toString() : "unknown";
      subscription.onMessage(message.data, from);
    });
    pubsub.subscribe(topic);
  }

  /** Publishes to every subscriber in the mesh; returns how many peers it was sent to. */
  async publish(topic: string, data: Uint8Array): Promise<number> {
    if (data.length > this.maxMessageBytes) {
      throw new MessageTooLargeError(`message of ${data.length} bytes exceeds the mesh limit of ${this.maxMessageBytes}`, "data");
    }
    try {
      const result = await this.node.services.pubsub.publish(topic, data);
      return result.recipients.length;
    } catch (error) {
      if (/NoPeersSubscribedToTopic/i.test(String((error as Error).message ?? error))) {
        throw new NoSubscribersError(`no peer is subscribed to ${topic}`, "topic");
      }
      throw error;
    }
  }

  subscribers(topic: string): number {
    return this.node.services.pubsub.getSubscribers(topic).length;
  }

  /** Resolves once at least `count` peers are subscribed to `topic`; polls, bounded by `timeoutMs`. */
  async waitForSubscribers(topic: string, count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.subscribers(topic) < count) {
      if (Date.now() > deadline) {
        throw new MeshTimeoutError(`only ${this.subscribers(topic)} of ${count} peers subscribed to ${topic} after ${timeoutMs} ms`, "timeoutMs");
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.redialTimer);
    await this.node.stop();
  }
}

function checkMultiaddr(address: string, field: string, needsPeerId: boolean): void {
  let parsed;
  try {
    parsed = multiaddr(address);
  } catch (error) {
    throw new InvalidMeshOptionError(`${field} is not a multiaddr: ${JSON.stringify(address)} (${(error as Error).message})`, field);
  }
  if (needsPeerId && !parsed.toString().includes("/p2p/")) {
    throw new InvalidMeshOptionError(`${field} must end in /p2p/<peer id>: ${address}`, field);
  }
}
