// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IAVSRegistrar
/// @notice EigenLayer's AVS registrar callback interface (names and signatures as EigenLayer
/// publishes them). The AllocationManager calls it when an operator joins or leaves operator sets.
interface IAVSRegistrar {
    /// @notice Called by the AllocationManager when `operator` registers for `operatorSetIds`;
    /// reverting refuses the registration.
    /// @param operator The registering operator.
    /// @param avs The AVS being registered for.
    /// @param operatorSetIds The operator sets joined.
    /// @param data Extra data the operator passed to the AllocationManager.
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external;

    /// @notice Called by the AllocationManager when `operator` leaves `operatorSetIds`.
    /// @param operator The deregistering operator.
    /// @param avs The AVS being left.
    /// @param operatorSetIds The operator sets left.
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds) external;

    /// @notice Whether this registrar serves `avs`.
    /// @param avs The AVS address.
    /// @return True if supported.
    function supportsAVS(address avs) external view returns (bool);
}
