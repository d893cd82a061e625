//! The committed manual pages match what the clap definitions generate
//! (`make man` regenerates them).

#[test]
fn committed_man_pages_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../man");
    let pages = mcias_mangen::pages().unwrap();
    assert_eq!(pages.len(), 4);
    for page in pages {
        let path = root.join(page.path);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `make man`", path.display()));
        assert!(
            committed == page.text,
            "{} is out of date; run `make man`",
            path.display()
        );
    }
}

#[test]
fn every_command_is_documented() {
    let pages = mcias_mangen::pages().unwrap();
    let ctl = &pages[0].text;
    for cmd in [
        "mciasctl login",
        "mciasctl logout",
        "mciasctl whoami",
        "mciasctl account create",
        "mciasctl role grant",
        "mciasctl token issue",
        "mciasctl totp enroll",
        "mciasctl pgcreds set",
        "mciasctl audit list",
        "mciasctl password change",
        "mciasctl completions",
    ] {
        assert!(
            ctl.contains(&format!(".SS \"{}\"", cmd.replace('-', "\\-"))),
            "{cmd}"
        );
    }
    let db = &pages[1].text;
    for cmd in [
        "mciasdb schema verify",
        "mciasdb account set\\-password",
        "mciasdb backup",
        "mciasdb restore",
        "mciasdb verify",
        "mciasdb rekey",
        "mciasdb audit query",
    ] {
        assert!(db.contains(&format!(".SS \"{cmd}\"")), "{cmd}");
    }
    assert!(pages[2].text.contains(".SH SIGNALS"));
    assert!(pages[3].text.contains("passphrase_env"));
}
