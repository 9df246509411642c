"""A local Microsoft Graph emulator held to Microsoft's documented behaviour: the
client-credentials token endpoint, users, OneDrive for Business drives, items, uploads and
delta, with seeded fault injection and a request log (see docs/emulator.md).

    from mobilise.emulator.server import EmulatorProcess
    emulator = EmulatorProcess(root).start()    # HTTPS on a free loopback port
    ...
    emulator.stop()
"""
