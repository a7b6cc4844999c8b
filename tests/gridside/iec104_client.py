"""An IEC 60870-5-104 controlling station (SCADA side) in its own process, driven line by line over stdin/stdout.

Usage: ``python iec104_client.py PORT COMMON_ADDRESS POINTS_JSON``; POINTS_JSON maps ``"measurement"``,
``"single"``, ``"setpoint"`` and ``"command"`` to IOA lists (from the documented table). Then one JSON
request per line on stdin, one JSON answer per line on stdout:

- ``{"op": "connect"}`` → ``{"connected": bool}`` (waits up to 5 s)
- ``{"op": "gi"}`` → ``{"ok": bool, "values": {ioa: [value, quality_ok, cot]}}`` (general interrogation)
- ``{"op": "drain"}`` → ``{"received": [[ioa, value, cot], ...]}`` (monitoring messages since the last drain)
- ``{"op": "set", "ioa": N, "value": x}`` → ``{"ok": bool}`` (short-float set-point, select then execute)
- ``{"op": "single", "ioa": N, "on": true}`` → ``{"ok": bool}`` (single command, select then execute)
- ``{"op": "clock"}`` → ``{"ok": bool}`` (clock synchronisation)
- ``{"op": "quit"}``

Only c104's client is used here: nothing of the product is imported.
"""

import json
import sys
import threading
import time

import c104


def main() -> None:
    port, ca, points = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    # a hang guard, not a speed check: answers come in milliseconds, but a busy machine can delay them seconds
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=30000)
    conn = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
    station = conn.add_station(common_address=ca)
    lock = threading.Lock()
    received: list = []
    gi: dict = {}

    def on_receive(point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage) -> c104.ResponseState:
        value = point.value
        value = bool(value) if isinstance(value, bool) else float(value)
        with lock:
            cot = message.cot.name
            received.append([point.io_address, value, cot])
            gi[point.io_address] = [value, point.quality.is_good(), cot]
        return c104.ResponseState.SUCCESS

    for ioa in points["measurement"]:
        station.add_point(io_address=ioa, type=c104.Type.M_ME_TF_1).on_receive(callable=on_receive)
    for ioa in points["single"]:
        station.add_point(io_address=ioa, type=c104.Type.M_SP_TB_1).on_receive(callable=on_receive)
    setpoints = {ioa: station.add_point(io_address=ioa, type=c104.Type.C_SE_NC_1,
                                        command_mode=c104.CommandMode.SELECT_AND_EXECUTE) for ioa in points["setpoint"]}
    commands = {ioa: station.add_point(io_address=ioa, type=c104.Type.C_SC_NA_1,
                                       command_mode=c104.CommandMode.SELECT_AND_EXECUTE) for ioa in points["command"]}
    terminated: set[int] = set()
    term = threading.Condition()
    confirmations: list[tuple[int, bool]] = []  # (IOA, positive) of every activation confirmation received

    def on_raw(connection: c104.Connection, data: bytes) -> None:
        text = c104.explain_bytes(apdu=data)
        if "1st IOA " not in text:
            return
        ioa = int(text.split("1st IOA ")[1].split()[0])
        with term:
            if "ACTIVATION_CON" in text:
                confirmations.append((ioa, "NEGATIVE" not in text))
            if "ACTIVATION_TERMINATION" in text:
                terminated.add(ioa)
            term.notify_all()

    def wait_terminated(ioa: int, timeout_s: float = 3.0) -> None:
        """A SCADA waits for the activation termination before its next command on the station."""
        with term:
            term.wait_for(lambda: ioa in terminated, timeout_s)
            terminated.discard(ioa)

    def confirmed(ioa: int, since: int, timeout_s: float = 3.0) -> bool:
        """Select and execute both confirmed positively, judged from the confirmations on the wire: c104's
        ``transmit`` can return the select's positive confirmation before the execute's negative one arrives."""
        with term:
            term.wait_for(lambda: sum(1 for i, _ in confirmations[since:] if i == ioa) >= 2, timeout_s)
            mine = [positive for i, positive in confirmations[since:] if i == ioa]
        return len(mine) >= 2 and all(mine)

    def command(point: c104.Point, ioa: int) -> dict:
        """Select + execute; a negative answer is repeated once after the termination, as SCADA operators do:
        c104's server can lose a selection that arrives within its tick of the previous command's termination
        (docs/gridside.md, known limitations). An out-of-range command is refused both times."""
        tries = []
        for _ in range(2):
            with term:
                since = len(confirmations)
            sent = point.transmit(cause=c104.Cot.ACTIVATION)
            tries.append(confirmed(ioa, since) if sent else False)
            wait_terminated(ioa)
            if tries[-1]:
                break
        return {"ok": tries[-1], "tries": tries}

    conn.on_receive_raw(callable=on_raw)
    client.start()

    def answer(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "connect":
            deadline = time.monotonic() + float(req.get("wait_s", 30))  # a refused client looks for less
            while not conn.is_connected and time.monotonic() < deadline:
                time.sleep(0.05)
            if conn.is_connected:
                conn.unmute()  # STARTDT: Init.NONE leaves the connection muted
            while conn.state != c104.ConnectionState.OPEN and time.monotonic() < deadline:
                time.sleep(0.05)
            answer({"connected": conn.state == c104.ConnectionState.OPEN, "state": conn.state.name})
        elif op == "gi":
            with lock:
                gi.clear()
            ok = conn.interrogation(common_address=ca, cause=c104.Cot.ACTIVATION, qualifier=c104.Qoi.STATION,
                                    wait_for_response=True)
            wait_terminated(0)  # the objects follow the confirmation; the termination ends the interrogation
            with lock:
                answer({"ok": ok, "values": {str(k): v for k, v in gi.items()}})
        elif op == "drain":
            with lock:
                out, received[:] = list(received), []
            answer({"received": out})
        elif op == "set":
            point = setpoints[req["ioa"]]
            point.info = c104.ShortCmd(target=float(req["value"]))
            answer(command(point, req["ioa"]))
        elif op == "single":
            point = commands[req["ioa"]]
            point.info = c104.SingleCmd(on=bool(req["on"]))
            answer(command(point, req["ioa"]))
        elif op == "clock":
            t0 = time.monotonic()
            ok = conn.clock_sync(common_address=ca, wait_for_response=True)
            answer({"ok": ok, "state": conn.state.name, "s": round(time.monotonic() - t0, 3)})
        elif op == "quit":
            break
    client.stop()


if __name__ == "__main__":
    main()
