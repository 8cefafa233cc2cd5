use anyhow::Result;
pub fn run() -> Result<()> {
    anyhow::bail!("the demo is not built yet")
}
