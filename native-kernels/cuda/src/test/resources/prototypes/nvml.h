/*
 * The NVML declarations KernelBridge binds, transcribed from the nvml.h of CUDA 11.8 (Debian 12's
 * non-free libnvidia-ml-dev 11.8.86~11.8.0-5~deb12u1, NVML API version 11), for machines without the
 * header. Only what the binding check needs: the types, the constants the backend passes or tests
 * against, and the prototypes, in the header's spelling. Where the header is installed, or ci/setup
 * fetched it, the test reads that instead.
 */

#define DECLDIR

/* The header maps the unversioned names to the current entry points; the binding uses the latter. */
#define nvmlInit                                    nvmlInit_v2
#define nvmlDeviceGetHandleByPciBusId               nvmlDeviceGetHandleByPciBusId_v2
#define nvmlEventSetWait                            nvmlEventSetWait_v2

/* Opaque handles: a GPU, and a set of events waited on together. */
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct nvmlEventSet_st* nvmlEventSet_t;

/* Buffer sizes the header promises are enough. */
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE      32
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE  80

/* Status of every call (the values between those listed here are left out). */
typedef enum nvmlReturn_enum
{
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999
} nvmlReturn_t;

/* Which memory errors to count: fixed by ECC, or not. */
typedef enum nvmlMemoryErrorType_enum
{
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0,
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1,
    NVML_MEMORY_ERROR_TYPE_COUNT
} nvmlMemoryErrorType_t;

/* Since the driver loaded, or over the board's lifetime. */
typedef enum nvmlEccCounterType_enum
{
    NVML_VOLATILE_ECC      = 0,
    NVML_AGGREGATE_ECC     = 1,
    NVML_ECC_COUNTER_TYPE_COUNT
} nvmlEccCounterType_t;

/* The die's sensor is the only one. */
typedef enum nvmlTemperatureSensors_enum
{
    NVML_TEMPERATURE_GPU      = 0,
    NVML_TEMPERATURE_COUNT
} nvmlTemperatureSensors_t;

/* Why a page was retired: repeated single-bit errors, or one double-bit error. */
typedef enum nvmlPageRetirementCause_enum
{
    NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS = 0,
    NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR = 1,
    NVML_PAGE_RETIREMENT_CAUSE_COUNT
} nvmlPageRetirementCause_t;

/* Banks by how many of their reserved rows are still free: all, most, some, few, none. */
typedef struct nvmlRowRemapperHistogramValues_st
{
    unsigned int max;
    unsigned int high;
    unsigned int partial;
    unsigned int low;
    unsigned int none;
} nvmlRowRemapperHistogramValues_t;

/* One event taken from a set: the GPU, the event type bit, and (for an XID) its number. */
typedef struct nvmlEventData_st
{
    nvmlDevice_t        device;
    unsigned long long  eventType;
    unsigned long long  eventData;
    unsigned int        gpuInstanceId;
    unsigned int        computeInstanceId;
} nvmlEventData_t;

/* The event type of XID errors. */
#define nvmlEventTypeXidCriticalError      0x0000000000000008LL

/* Why the clocks are below their maximum now: one bit per reason. */
#define nvmlClocksThrottleReasonGpuIdle                   0x0000000000000001LL
#define nvmlClocksThrottleReasonApplicationsClocksSetting 0x0000000000000002LL
#define nvmlClocksThrottleReasonSwPowerCap                0x0000000000000004LL
#define nvmlClocksThrottleReasonHwSlowdown                0x0000000000000008LL
#define nvmlClocksThrottleReasonSyncBoost                 0x0000000000000010LL
#define nvmlClocksThrottleReasonSwThermalSlowdown         0x0000000000000020LL
#define nvmlClocksThrottleReasonHwThermalSlowdown         0x0000000000000040LL
#define nvmlClocksThrottleReasonHwPowerBrakeSlowdown      0x0000000000000080LL
#define nvmlClocksThrottleReasonDisplayClockSetting       0x0000000000000100LL

/* Start and stop (counted: each start needs its stop), and the words for a status. */
nvmlReturn_t DECLDIR nvmlInit_v2(void);
nvmlReturn_t DECLDIR nvmlShutdown(void);
const DECLDIR char* nvmlErrorString(nvmlReturn_t result);

nvmlReturn_t DECLDIR nvmlSystemGetDriverVersion(char *version, unsigned int length);
nvmlReturn_t DECLDIR nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device);

/* The readings. */
nvmlReturn_t DECLDIR nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType, nvmlEccCounterType_t counterType, unsigned long long *eccCounts);
nvmlReturn_t DECLDIR nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
    unsigned int *pageCount, unsigned long long *addresses);
nvmlReturn_t DECLDIR nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows, unsigned int *uncRows,
                                               unsigned int *isPending, unsigned int *failureOccurred);
nvmlReturn_t DECLDIR nvmlDeviceGetRowRemapperHistogram(nvmlDevice_t device, nvmlRowRemapperHistogramValues_t *values);
nvmlReturn_t DECLDIR nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *clocksThrottleReasons);
nvmlReturn_t DECLDIR nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned int *value);
nvmlReturn_t DECLDIR nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType, unsigned int *temp);

/* XID errors, taken from an event set without waiting. */
nvmlReturn_t DECLDIR nvmlEventSetCreate(nvmlEventSet_t *set);
nvmlReturn_t DECLDIR nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set);
nvmlReturn_t DECLDIR nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t * data, unsigned int timeoutms);
nvmlReturn_t DECLDIR nvmlEventSetFree(nvmlEventSet_t set);
