using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Consumers.IntegrationTests.Admin;

/// <summary>
/// Debian's chromium, headless, driven through Debian's chromium-driver (scripts/test.sh installs both). Never a
/// downloaded browser or driver: both paths are given, so Selenium Manager has nothing to fetch.
/// </summary>
public static class Browser
{
    private const string ChromiumBinary = "/usr/lib/chromium/chromium";
    private const string DriverDirectory = "/usr/bin";
    private const string DriverFile = "chromedriver";

    public static ChromeDriver Start()
    {
        if (!File.Exists(ChromiumBinary) || !File.Exists(Path.Combine(DriverDirectory, DriverFile)))
        {
            throw new InvalidOperationException(
                $"the dashboard tests need Debian's chromium ({ChromiumBinary}) and chromium-driver ({DriverDirectory}/{DriverFile}): " +
                "apt-get install -y chromium chromium-driver (scripts/test.sh installs them when missing)");
        }

        var service = ChromeDriverService.CreateDefaultService(DriverDirectory, DriverFile);
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = ChromiumBinary };
        // --no-sandbox: the suite runs as root, where chromium's sandbox refuses to start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
            "--no-first-run", "--disable-extensions", "--disable-background-networking", "--lang=en-GB");
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    /// <summary>A condition on the page, false while the page is being redrawn (the dashboard redraws on every refresh).</summary>
    public static Func<Task<bool>> Check(Func<bool> condition) => () =>
    {
        try
        {
            return Task.FromResult(condition());
        }
        catch (WebDriverException)
        {
            return Task.FromResult(false);
        }
    };

    /// <summary>Clicks <paramref name="selector"/> until <paramref name="then"/> holds (a redraw may replace the element mid-click).</summary>
    public static async Task ClickUntilAsync(IWebDriver driver, By selector, Func<bool> then, TimeSpan timeout)
    {
        await Infrastructure.Eventually.WaitAsync(Check(() =>
        {
            if (!then())
            {
                driver.FindElement(selector).Click();
            }

            return then();
        }), timeout, () => $"clicking {selector} did not lead anywhere");
    }

    /// <summary>
    /// Saves a screenshot: into <c>docs/images</c> (the pictures docs/operations.md shows) when
    /// <c>CONSUMERS_UPDATE_SCREENSHOTS=1</c>, else beside the test output, so a test run leaves the checkout unchanged.
    /// </summary>
    public static void Screenshot(IWebDriver driver, string name)
    {
        var folder = Environment.GetEnvironmentVariable("CONSUMERS_UPDATE_SCREENSHOTS") == "1"
            ? Path.Combine(RepositoryRoot(), "docs", "images")
            : Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        ((ITakesScreenshot)driver).GetScreenshot().SaveAsFile(Path.Combine(folder, name));
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Consumers.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Consumers.sln not found above " + AppContext.BaseDirectory);
    }
}
