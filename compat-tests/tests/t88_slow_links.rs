//! The fault suite's slow links do what netem's arguments say, with `sch_netem` or, on a
//! kernel without it, with the userspace emulator (`compat-tests/py/linkem.py`): a delay of
//! at least what was asked, loss, a partition that still wins over a slowed link, and links
//! as they were once unslowed. Needs root (network namespaces), as the fault suite does.

use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_compat_tests::faults::netns::Network;

/// Serves one TCP echo in peer `i`'s namespace on port 7100 (for at most 20 s).
fn echo_server(net: &Network, i: usize) -> anyhow::Result<std::process::Child> {
    let script = format!(
        "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('{}',7100));s.listen();s.settimeout(20)\n\
         while True:\n  c,_=s.accept();c.sendall(c.recv(16));c.close()",
        net.addr(i)
    );
    let child = Command::new("ip")
        .args(["netns", "exec", &net.namespace(i), "python3", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

/// From peer `from`'s namespace: the seconds a connect and echo to peer `to` took, or `None`
/// when it failed within 3 s.
fn round_trip(net: &Network, from: usize, to: usize) -> anyhow::Result<Option<f64>> {
    let script = format!(
        "import socket,time\nt=time.monotonic()\n\
         try:\n  s=socket.create_connection(('{}',7100),timeout=3);s.sendall(b'ping');assert s.recv(16)==b'ping'\n\
         except Exception: print('failed');raise SystemExit\nprint(time.monotonic()-t)",
        net.addr(to)
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &net.namespace(from), "python3", "-c", &script])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(text.parse().ok())
}

#[test]
fn slowed_links_delay_lose_yield_to_partitions_and_heal() -> anyhow::Result<()> {
    let net = Network::create(2)?;
    let mut server = echo_server(&net, 1)?;
    let direct = round_trip(&net, 0, 1)?;
    assert!(direct.is_some(), "the link works before it is slowed");

    let used = net.slow(0, "delay 150ms")?;
    println!("slowed with: {used}");
    let slowed = round_trip(&net, 0, 1)?.expect("a delayed link still connects");
    // A connect and an echo cross the link from peer 0 twice, each time delayed by at least
    // 150 ms (the emulator delays the way back too; netem only what peer 0 sends).
    assert!(slowed >= 0.3, "took {slowed:.3}s through `{used}`");

    net.cut(&[0], &[1])?;
    assert_eq!(
        round_trip(&net, 0, 1)?,
        None,
        "a partition wins over a slowed link"
    );
    net.heal()?;
    net.unslow()?;

    net.slow(0, "loss 100%")?;
    assert_eq!(round_trip(&net, 0, 1)?, None, "every packet lost");
    if used.contains("userspace") {
        assert!(
            net.slow(1, "delay 10ms").is_err(),
            "the emulator refuses a second setting while it runs"
        );
    }
    net.unslow()?;
    assert!(
        round_trip(&net, 0, 1)?.is_some(),
        "unslowed, the link works again"
    );
    let _ = server.kill();
    let _ = server.wait();
    Ok(())
}
