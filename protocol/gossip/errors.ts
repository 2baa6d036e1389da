import { FieldError } from "../errors.ts";

/** Errors of the gossip mesh; `field` names the option or argument that was wrong. */
export class GossipError extends FieldError {
  override name = "GossipError";
}

/** A mesh option (listen address, bootstrap address, key file, size limit) is invalid. */
export class InvalidMeshOptionError extends GossipError {
  override name = "InvalidMeshOptionError";
}

/** A publish found no peer subscribed to the topic: nobody would ever see the message. */
export class NoSubscribersError extends GossipError {
  override name = "NoSubscribersError";
}

/** An outgoing message is larger than the mesh accepts. */
export class MessageTooLargeError extends GossipError {
  override name = "MessageTooLargeError";
}

/** Waiting for peers timed out. */
export class MeshTimeoutError extends GossipError {
  override name = "MeshTimeoutError";
}
