import { FieldError } from "../errors.ts";

/** Typed errors for reading deployments; each names the field that was wrong. */
export class DeploymentError extends FieldError {
  override name = "DeploymentError";
}

/** No deployment file for the chain id. */
export class DeploymentNotFoundError extends DeploymentError {
  override name = "DeploymentNotFoundError";
}

/** The deployment file is not valid JSON or lacks / mistypes a field. */
export class InvalidDeploymentError extends DeploymentError {
  override name = "InvalidDeploymentError";
}
