using System.Text.Json;
using Consumers.Contracts;
using Consumers.IntegrationTests.Infrastructure;
using OpenQA.Selenium;
using static Consumers.IntegrationTests.Admin.AdminClient;

namespace Consumers.IntegrationTests.Admin;

/// <summary>
/// The dashboard in a real headless browser against a real worker: it loads, shows a running job's timeline and
/// progress as they grow, and its Cancel button cancels the job. The screenshots in docs/operations.md come from here.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private TestEnvironment env = null!;

    public async Task InitializeAsync() => env = await TestEnvironment.CreateAsync();

    public async Task DisposeAsync() => await env.DisposeAsync();

    [Fact]
    public async Task The_dashboard_shows_a_running_jobs_timeline_as_it_grows_and_its_cancel_button_cancels_the_job()
    {
        var worker = await env.StartWorkerAsync("worker-a", Settings());
        var address = AddressOf(worker);
        // Some history for the overview: finished jobs, one failed, and the slow one that is cancelled below.
        var quick = Enumerable.Range(0, 4).Select(i => TestEnvironment.SyntheticJob($"out/quick-{i}.json", ("durationMs", "200"))).ToList();
        var failing = TestEnvironment.SyntheticJob("out/failing.json", ("failCode", ErrorCodes.InvalidRequest));
        foreach (var job in quick.Append(failing))
        {
            await env.Store.SubmitAsync(job, 3, CancellationToken.None);
        }

        foreach (var job in quick.Append(failing))
        {
            await env.WaitForTerminalAsync(job.JobId, Wait);
        }

        var slow = TestEnvironment.SyntheticJob("out/slow.json", ("durationMs", "120000"), ("steps", "120"));
        await env.Store.SubmitAsync(slow, 3, CancellationToken.None);
        await Eventually.WaitAsync(async () => (await env.JobAsync(slow.JobId))?.Status == JobStatuses.Processing, Wait, () => "the slow job never started");

        using var driver = Browser.Start();
        driver.Navigate().GoToUrl(address);
        driver.FindElement(By.Id("login-key")).SendKeys(OperatorKey);
        driver.FindElement(By.Id("login-submit")).Click();

        // Overview: counts per status, the lane running the job, the worker.
        await Eventually.WaitAsync(Browser.Check(() =>
                driver.FindElement(By.CssSelector("#status-cards [data-status=succeeded] .value")).Text == "4"
                && driver.FindElement(By.CssSelector("#status-cards [data-status=processing] .value")).Text == "1"
                && driver.FindElement(By.Id("lanes")).Text.Contains("consumers.jobs", StringComparison.Ordinal)),
            Wait, () => "the overview did not show the jobs");
        Assert.Contains($"{Operator} (operator)", driver.FindElement(By.Id("who")).Text, StringComparison.Ordinal);
        Browser.Screenshot(driver, "dashboard-overview.png");

        // The job list, filtered to running jobs.
        driver.Navigate().GoToUrl(new Uri(address, "/#/jobs?status=processing"));
        await Eventually.WaitAsync(Browser.Check(() => driver.FindElements(By.CssSelector("#job-table tbody tr")).Count == 1
                && driver.FindElements(By.CssSelector($"#job-table tr[data-job='{slow.JobId}']")).Count == 1),
            Wait, () => "the job list did not show the running job alone");
        driver.Navigate().GoToUrl(new Uri(address, "/#/jobs"));
        await Eventually.WaitAsync(Browser.Check(() => driver.FindElements(By.CssSelector("#job-table tbody tr")).Count == 6), Wait, () => "the job list is incomplete");
        Browser.Screenshot(driver, "dashboard-jobs.png");

        // The job page: its timeline and progress grow while it runs, without a reload.
        driver.Navigate().GoToUrl(new Uri(address, "/#/job/" + slow.JobId));
        int ProgressRows() => driver.FindElements(By.CssSelector("#job-timeline tr[data-type=progress]")).Count;
        var firstCount = 0;
        await Eventually.WaitAsync(Browser.Check(() =>
                driver.FindElements(By.CssSelector("#job-timeline tr[data-type=started]")).Count == 1 && (firstCount = ProgressRows()) > 0),
            Wait, () => "the job page shows no started and progress events");
        var firstPercent = Percent(driver);
        await Eventually.WaitAsync(Browser.Check(() => ProgressRows() > firstCount && Percent(driver) > firstPercent),
            Wait, () => $"the timeline did not grow past {firstCount} progress events / {firstPercent}%");
        Browser.Screenshot(driver, "dashboard-job-running.png");

        // Cancel: the button asks for confirmation and a reason, then the worker stops the job.
        await Browser.ClickUntilAsync(driver, By.Id("cancel-job"), () => driver.FindElements(By.Id("confirm-box")).Count == 1, Wait);
        driver.FindElement(By.Id("action-reason")).SendKeys("wrong clip");
        driver.FindElement(By.Id("confirm-action")).Click();
        var row = await env.WaitForTerminalAsync(slow.JobId, Wait);
        Assert.Equal(JobStatuses.Cancelled, row.Status);
        await Eventually.WaitAsync(Browser.Check(() => driver.FindElements(By.CssSelector("#job-timeline tr[data-type=cancelled]")).Count == 1
                && driver.FindElements(By.CssSelector("[data-status=cancelled]")).Count > 0
                && !driver.FindElement(By.Id("cancel-job")).Enabled),
            Wait, () => "the page did not show the cancel");
        Browser.Screenshot(driver, "dashboard-job-cancelled.png");
        var cancelled = JsonDocument.Parse((await env.TimelineAsync(slow.JobId))[^1].Data).RootElement;
        Assert.Equal(Operator, cancelled.GetProperty("by").GetString());
        Assert.Equal("wrong clip", cancelled.GetProperty("reason").GetString());
        Assert.Equal("running", cancelled.GetProperty("where").GetString());

        // A viewer sees the same page without the buttons.
        driver.FindElement(By.Id("logout")).Click();
        driver.FindElement(By.Id("login-key")).Clear();
        driver.FindElement(By.Id("login-key")).SendKeys(ViewerKey);
        driver.FindElement(By.Id("login-submit")).Click();
        await Eventually.WaitAsync(Browser.Check(() => driver.FindElements(By.CssSelector("#job-timeline tr[data-type=cancelled]")).Count == 1),
            Wait, () => "the viewer did not get the job page");
        Assert.Empty(driver.FindElements(By.Id("cancel-job")));
        Assert.Contains("read-only", driver.FindElement(By.Id("view")).Text, StringComparison.Ordinal);
        await env.AssertAllTimelinesValidAsync();
    }

    private static int Percent(OpenQA.Selenium.Chrome.ChromeDriver driver) =>
        int.TryParse(driver.FindElement(By.Id("job-progress")).GetDomAttribute("data-percent"), out var percent) ? percent : -1;
}
